from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.fields import FiniteDecimalAdminMixin

from .certificate_status import (
    MAX_REASON_LENGTH,
    REINSTATE,
    CertificateStatusError,
    certificate_transition,
)
from .cpr import admin as cpr_admin  # noqa: F401  (registers the CPR/AED card review)
from .models import Certificate, CertificateLog, Certification, CertificationType, Cycle


@admin.register(CertificationType)
class CertificationTypeAdmin(FiniteDecimalAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "required_cecs", "renewal_fee", "late_fee", "cycle_years", "display_order")
    list_editable = ("required_cecs", "renewal_fee", "late_fee")
    ordering = ("display_order", "code")


class CycleInline(admin.TabularInline):
    model = Cycle
    extra = 0
    fields = ("start", "end", "state", "renewed_at", "undone_at")
    readonly_fields = ("renewed_at", "undone_at")


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ("user_member_id", "user", "certification_type", "first_certified_on")
    list_filter = ("certification_type",)
    search_fields = ("user__member_id", "user__email", "user__first_name", "user__last_name")
    list_select_related = ("user", "certification_type")
    autocomplete_fields = ("user",)
    inlines = [CycleInline]

    @admin.display(description="Member ID", ordering="user__member_id")
    def user_member_id(self, obj):
        return obj.user.member_id


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    list_display = ("certification", "start", "end", "state", "renewed_at", "undone_at")
    list_filter = ("state", "certification__certification_type", "end")
    search_fields = ("certification__user__member_id", "certification__user__email", "certification__user__last_name")
    list_select_related = ("certification__user", "certification__certification_type")
    raw_id_fields = ("certification",)
    show_full_result_count = False


# Certificates ---------------------------------------------------------------

# Who may suspend, reinstate and revoke a certificate (nobody edits one by hand).
STATUS_PERMISSION = "certifications.change_certificate"


class CertificateStatusForm(forms.Form):
    """The reason staff give for suspending, reinstating or revoking a certificate."""

    reason = forms.CharField(
        label="Reason (the holder reads this; it is logged)", max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


# Each staff action on a certificate: its URL's last part, the status it leads to, what staff read and press.
STATUS_ACTIONS = {
    "suspend": {"to": Certificate.Status.SUSPENDED, "verb": "suspended", "title": "Suspend this certificate?",
                "button": "Suspend",
                "effect": "Its public verify page says Suspended until staff reinstate it. The holder is emailed."},
    "reinstate": {"to": REINSTATE, "verb": "reinstated", "title": "Reinstate this certificate?",
                  "button": "Reinstate",
                  "effect": "It returns to the status its dates give (Active, in the grace period, lapsed or "
                            "renewed). The holder is emailed."},
    "revoke": {"to": Certificate.Status.REVOKED, "verb": "revoked", "title": "Revoke this certificate?",
               "button": "Revoke",
               "effect": "A revoked certificate stays revoked: this cannot be undone. Its public verify page says "
                         "Revoked. The holder is emailed."},
}


def _actions_for(status: str) -> list[str]:
    """The staff actions a certificate in ``status`` offers."""
    if status == Certificate.Status.REVOKED:
        return []
    if status == Certificate.Status.SUSPENDED:
        return ["reinstate", "revoke"]
    return ["suspend", "revoke"]


class CertificateLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Every move of the certificate's status, oldest first."""

    model = CertificateLog
    extra = 0
    can_delete = False
    verbose_name_plural = "Status log"
    fields = ("at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Issued by renewals and rendered by the worker; staff look, nobody edits. An empty "rendered at" long after
    "created at" means the render was lost (the sweeper queues it again every few minutes). Staff with the
    "Can change certificate" permission suspend, reinstate and revoke one from its page, each with a reason on a
    page of its own (``certificate_status.certificate_transition``)."""

    list_display = ("number", "holder_name", "certification_name", "issued_on", "valid_through", "status",
                    "created_at", "rendered_at")
    list_filter = ("status", "issued_on", ("rendered_at", admin.EmptyFieldListFilter),
                   ("voided_at", admin.EmptyFieldListFilter))
    search_fields = ("number", "holder_name", "certification__user__last_name", "certification__user__member_id",
                     "certification__user__email")
    list_select_related = ("certification__user",)
    fields = ("number", "certification", "cycle", "holder_name", "certification_name", "issued_on", "valid_through",
              "status", "status_changed_at", "status_reason", "status_actions", "verify_page", "created_at",
              "rendered_at", "voided_at", "void_reason", "download")
    readonly_fields = fields
    inlines = [CertificateLogInline]
    show_full_result_count = False

    @admin.display(description="PDF")
    def download(self, obj):
        return format_html('<a href="{}">Download</a>', reverse("certificate_download", args=[obj.number]))

    @admin.display(description="Public verify page")
    def verify_page(self, obj):
        url = reverse("verify", args=[obj.verify_code])
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Change status")
    def status_actions(self, obj):
        names = _actions_for(obj.status)
        if not names:
            return "None: a revoked certificate stays revoked."
        return format_html_join(" ", '<a class="button" href="{}">{}</a>', (
            (reverse(f"admin:certifications_certificate_{name}", args=[obj.pk]), STATUS_ACTIONS[name]["button"])
            for name in names))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            *(path(f"<path:object_id>/{name}/", view(self._status_view(name)),
                   name=f"certifications_certificate_{name}") for name in STATUS_ACTIONS),
            *super().get_urls(),
        ]

    def _status_view(self, name: str):
        def status_view(request, object_id):
            return self.status_change_view(request, object_id, name)
        return status_view

    def status_change_view(self, request, object_id, name: str):
        """GET: the certificate and a reason to give; POST: make the move (``certificate_transition``), then back
        to the certificate's page with what happened."""
        if not request.user.has_perm(STATUS_PERMISSION):
            raise PermissionDenied
        certificate = (Certificate.objects.select_related("certification__user").filter(pk=unquote(object_id))
                       .first() if str(object_id).isdigit() else None)
        if certificate is None:
            raise Http404("No such certificate.")
        action = STATUS_ACTIONS[name]
        form = CertificateStatusForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                moved, acted = certificate_transition(certificate_id=certificate.pk, to=action["to"],
                                                      actor=f"staff:{request.user.pk}",
                                                      reason=form.cleaned_data["reason"])
            except CertificateStatusError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                if acted:
                    self.message_user(request, f"Certificate {moved.number} is {action['verb']}: it is now "
                                               f"{moved.get_status_display()}. The holder is emailed.",
                                      messages.SUCCESS)
                else:
                    self.message_user(request, f"Certificate {moved.number} was already {action['verb']}; nothing "
                                               "changed and nobody was emailed.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:certifications_certificate_change", args=[certificate.pk]))
        return TemplateResponse(request, "admin/certifications/certificate/status_change.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": action["title"],
            "certificate": certificate, "action": action, "form": form,
        })
