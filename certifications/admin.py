from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.fields import FiniteDecimalAdminMixin

from .cpr import admin as cpr_admin  # noqa: F401  (registers the CPR/AED card review)
from .models import Certificate, Certification, CertificationType, Cycle


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


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Issued by renewals and rendered by the worker; staff look, nobody edits. An empty "rendered at" long after
    "created at" means the render was lost (the sweeper queues it again every few minutes)."""

    list_display = ("number", "holder_name", "certification_name", "issued_on", "valid_through", "created_at",
                    "rendered_at")
    list_filter = ("issued_on", ("rendered_at", admin.EmptyFieldListFilter), ("voided_at", admin.EmptyFieldListFilter))
    search_fields = ("number", "certification__user__member_id", "certification__user__email", "holder_name")
    list_select_related = ("certification__user",)
    fields = ("number", "certification", "cycle", "holder_name", "certification_name", "issued_on", "valid_through",
              "created_at", "rendered_at", "voided_at", "void_reason", "download")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="PDF")
    def download(self, obj):
        return format_html('<a href="{}">Download</a>', reverse("certificate_download", args=[obj.number]))
