"""The CPR/AED card review queue in the staff admin."""

import io

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .forms import CprRejectForm
from ..models import CprUpload, CprUploadFile
from .selectors import cpr_file_facts
from .services import REVIEW_PERMISSION, CprError, cpr_file_preview, cpr_upload_approve, cpr_upload_reject
from acsm_portal.files import file_response
from acsm_portal.uploads import ACTIVE_CONTENT_REFUSALS, JPEG, PDF

KIND_NAMES = {PDF: "PDF", JPEG: "JPEG image"}


class CprStatusFilter(admin.SimpleListFilter):
    """The review queue opens on cards waiting for review; staff can switch to the others."""

    title = "status"
    parameter_name = "status"
    default = CprUpload.State.PENDING

    def lookups(self, request, model_admin):
        return [
            (CprUpload.State.PENDING, "Submitted – pending review"),
            (CprUpload.State.APPROVED, "Approved"),
            (CprUpload.State.REJECTED, "Rejected"),
            ("all", "All"),
        ]

    def choices(self, changelist):
        current = self.value() or self.default
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.default
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(CprUpload)
class CprUploadAdmin(admin.ModelAdmin):
    list_display = (
        "submitted_at", "member_id", "member", "certification_type", "card_type", "expires_on", "file_count", "state",
        "reviewed_by",
    )
    list_display_links = ("submitted_at", "member_id")
    list_filter = (CprStatusFilter, "certification__certification_type")
    search_fields = ("certification__user__member_id", "certification__user__email")
    search_help_text = "Member ID or email"
    ordering = ("submitted_at", "id")
    list_select_related = ("certification__user", "certification__certification_type", "reviewed_by")
    list_per_page = 50
    # The page counts only what the filter shows (the pending queue: an index-only scan of
    # cpr_upload_queue), not also every card ever submitted.
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    fieldsets = (
        ("Certificant", {"fields": ("member", "member_id", "certification_type", "cycle")}),
        ("Card", {"fields": ("card_type", "issuing_organization", "expires_on", "skills_check_confirmed", "previews")}),
        ("Review", {"fields": ("state", "submitted_at", "reviewed_by", "reviewed_at", "rejection_reason",
                               "decision_emailed_at")}),
    )
    readonly_fields = (
        "member", "member_id", "certification_type", "cycle", "card_type", "issuing_organization", "expires_on",
        "skills_check_confirmed", "previews", "state", "submitted_at", "reviewed_by", "reviewed_at",
        "rejection_reason", "decision_emailed_at",
    )

    # Only reviewers see these identity documents; nobody adds, edits or deletes them here.
    class Media:
        css = {"all": ("css/cpr-admin.css",)}

    def has_review_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(REVIEW_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return self.has_review_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        # Files counted per row in a subquery: Count("files") would GROUP BY the whole queryset, so every
        # page (and its count) would aggregate all matching cards before picking 50 of them.
        files = CprUploadFile.objects.filter(upload=OuterRef("pk")).order_by().values("upload").annotate(n=Count("pk"))
        return (
            super().get_queryset(request)
            .exclude(state=CprUpload.State.DRAFT)
            .select_related("certification__user", "certification__certification_type", "cycle", "reviewed_by")
            .annotate(file_count=Coalesce(Subquery(files.values("n"), output_field=IntegerField()), 0))
        )

    @admin.display(description="Member ID", ordering="certification__user__member_id")
    def member_id(self, obj):
        return obj.certification.user.member_id

    @admin.display(description="Member", ordering="certification__user__last_name")
    def member(self, obj):
        user = obj.certification.user
        return f"{user.get_full_name()} <{user.email}>"

    @admin.display(description="Certification", ordering="certification__certification_type__code")
    def certification_type(self, obj):
        return obj.certification.certification_type.code

    @admin.display(description="Files", ordering="file_count")
    def file_count(self, obj):
        return obj.file_count

    @admin.display(description="Files")
    def previews(self, obj):
        """Every file the certificant sent, each PDF page by page, with its name, kind, size, hash and download."""
        files = list(obj.files.all())
        if not files:
            return "No files."
        return mark_safe("".join(_file_preview(f) for f in files))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:upload_id>/approve/", view(self.approve_view), name="certifications_cprupload_approve"),
            path("<int:upload_id>/reject/", view(self.reject_view), name="certifications_cprupload_reject"),
            path("files/<uuid:key>/preview/", view(self.preview_view), name="certifications_cprupload_preview"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_review": self.has_review_permission(request), "reject_form": CprRejectForm()}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # Decisions: the same services the site uses, one at a time or in bulk.
    def _decide(self, request, uploads, decide, verb: str) -> None:
        changed, repeated = 0, 0
        for upload in uploads:
            try:
                _, did = decide(upload)
            except CprError as exc:
                self.message_user(request, f"{_label(upload)}: {exc.message}", messages.ERROR)
                continue
            changed += did
            repeated += not did
        if changed:
            self.message_user(request, f"{verb.capitalize()} {changed} CPR card{'s' if changed != 1 else ''}; "
                                       "the certificant is emailed.", messages.SUCCESS)
        if repeated:
            self.message_user(request, f"{repeated} CPR card{'s were' if repeated != 1 else ' was'} already {verb}; "
                                       "nothing changed.", messages.INFO)

    @admin.action(description="Approve selected CPR cards", permissions=["review"])
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, lambda u: cpr_upload_approve(upload=u, reviewer=request.user), "approved")

    @admin.action(description="Reject selected CPR cards (with a reason)…", permissions=["review"])
    def reject_selected(self, request, queryset):
        form = CprRejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide(request, queryset,
                         lambda u: cpr_upload_reject(upload=u, reviewer=request.user, reason=reason), "rejected")
            return None
        return self._reject_page(request, list(queryset), form, bulk=True)

    def _reject_page(self, request, uploads, form, *, bulk: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject CPR card" if len(uploads) == 1 else "Reject CPR cards",
            "opts": self.opts,
            "uploads": uploads,
            "form": form,
            "bulk": bulk,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/certifications/cprupload/reject.html", context)

    def _upload_or_404(self, request, upload_id: int) -> CprUpload:
        if not self.has_review_permission(request):
            raise PermissionDenied
        upload = self.get_queryset(request).filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such CPR card upload.")
        return upload

    def approve_view(self, request, upload_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        upload = self._upload_or_404(request, upload_id)
        self._decide(request, [upload], lambda u: cpr_upload_approve(upload=u, reviewer=request.user), "approved")
        return redirect("admin:certifications_cprupload_changelist")

    def reject_view(self, request, upload_id: int):
        upload = self._upload_or_404(request, upload_id)
        form = CprRejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide(request, [upload],
                         lambda u: cpr_upload_reject(upload=u, reviewer=request.user, reason=reason), "rejected")
            return redirect("admin:certifications_cprupload_changelist")
        return self._reject_page(request, [upload], form, bulk=False)

    def preview_view(self, request, key):
        if not self.has_review_permission(request):
            raise PermissionDenied
        stored = (
            CprUploadFile.objects.exclude(upload__state=CprUpload.State.DRAFT).filter(key=key).first()
        )
        if stored is None:
            raise Http404("No such file.")
        try:
            page = int(request.GET.get("page", "1"))
        except ValueError:
            raise Http404("No such page.") from None
        preview = cpr_file_preview(stored=stored, page=page)
        if preview is None:
            raise Http404("No preview for this page; download the file instead.")
        data, content_type = preview
        return file_response(stored, as_attachment=False, content=io.BytesIO(data), content_type=content_type,
                             filename=f"preview-{stored.key.hex}-page{page}.{content_type.split('/')[1]}")


def _file_preview(stored: CprUploadFile) -> str:
    """One file on the review page: a heading line, a warning for a PDF that can do more than show its pages, and
    an image of every page (a PDF's pages rendered one by one; an image as itself)."""
    facts = cpr_file_facts(stored=stored)
    pages = max(facts.pages, 1)
    preview = reverse("admin:certifications_cprupload_preview", args=[stored.key])
    download = reverse("cpr_file_download", args=[stored.key])
    kind = KIND_NAMES.get(stored.content_type, "PNG image")
    if stored.content_type == PDF:
        kind = f"PDF, {pages} page{'s' if pages != 1 else ''}"
    head = format_html(
        '<p class="cpr-file-head"><strong>{}</strong> · {} · {} · SHA-256 {}… · <a href="{}">Download</a></p>',
        stored.original_name, kind, stored.size_label, stored.sha256[:12], download,
    )
    warning = format_html(
        '<p class="cpr-file-warning errornote">This PDF {} (it was uploaded before such PDFs were refused). Review it '
        "from the page images below and do not open the download in a PDF reader; if it is needed, ask the "
        "certificant for the card printed to a new PDF, or a photo of it.</p>",
        ACTIVE_CONTENT_REFUSALS[facts.active_content],
    ) if facts.active_content else ""
    if pages == 1:
        figures = format_html(
            '<figure class="cpr-preview"><a href="{}?page=1"><img src="{}?page=1" width="360" alt="Preview of {}" '
            'loading="lazy"></a></figure>',
            preview, preview, stored.original_name,
        )
    else:
        figures = format_html_join(
            "",
            '<figure class="cpr-preview"><a href="{}?page={}"><img src="{}?page={}" width="360" '
            'alt="Page {} of {} of {}" loading="lazy"></a><figcaption>Page {} of {}</figcaption></figure>',
            ((preview, n, preview, n, n, pages, stored.original_name, n, pages) for n in range(1, pages + 1)),
        )
    return format_html('<section class="cpr-file" aria-label="{}">{}{}<div class="cpr-pages">{}</div></section>',
                       stored.original_name, head, warning, figures)


def _label(upload: CprUpload) -> str:
    user = upload.certification.user
    return f"{user.get_full_name()} ({user.member_id}, {upload.certification.certification_type.code})"
