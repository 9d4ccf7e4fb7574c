"""Staff pages for audits: the audit policy (one row)."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse

from acsm_portal.fields import FiniteDecimalAdminMixin
from .models import AuditPolicy
from .selectors import audit_policy
from .services import AuditError, audit_policy_update


@admin.register(AuditPolicy)
class AuditPolicyAdmin(FiniteDecimalAdminMixin, admin.ModelAdmin):
    """The one policy row: the list goes straight to it; it is never added or deleted, only changed through
    ``audit_policy_update``."""

    fields = ("rate", "days_to_answer", "extension_days", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_object(self, request, object_id, from_field=None):
        audit_policy()  # the row exists from the first look on
        return super().get_object(request, object_id, from_field)

    def changelist_view(self, request, extra_context=None):
        policy = audit_policy()
        return HttpResponseRedirect(reverse("admin:audits_auditpolicy_change", args=[policy.pk]))

    def save_model(self, request, obj, form, change):
        """Saved through ``audit_policy_update`` (the form's field validators have checked the values)."""
        try:
            audit_policy_update(by=request.user, rate=obj.rate, days_to_answer=obj.days_to_answer,
                                extension_days=obj.extension_days)
        except AuditError as exc:
            messages.error(request, exc.message)
            return
        messages.info(request, "Draws from now on use this policy; audits already begun keep their due dates.")
