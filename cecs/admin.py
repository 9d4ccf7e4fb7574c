from django.contrib import admin

from acsm_portal import clock
from acsm_portal.fields import FiniteDecimalAdminMixin

from .models import CECEntry, YearlyCap
from .services import cec_save_by_staff


@admin.register(YearlyCap)
class YearlyCapAdmin(FiniteDecimalAdminMixin, admin.ModelAdmin):
    list_display = ("format", "max_cecs")
    list_editable = ("max_cecs",)
    list_display_links = ("format",)


@admin.register(CECEntry)
class CECEntryAdmin(FiniteDecimalAdminMixin, admin.ModelAdmin):
    list_display = ("date_earned", "member_id", "user", "cecs", "course_name", "format", "credit_type", "source",
                    "date_reported")
    list_filter = ("format", "credit_type", "source", "date_earned")
    search_fields = ("user__member_id", "user__email", "user__first_name", "user__last_name", "course_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    date_hierarchy = "date_earned"
    fields = ("user", "date_earned", "units", "credit_type", "course_name", "provider", "format", "cecs", "source",
              "date_reported", "created_at", "updated_at")
    readonly_fields = ("cecs", "source", "date_reported", "created_at", "updated_at")
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        """Through the service: staff-added credits are staff-sourced (see ``cec_save_by_staff``); the model's
        constraints have already refused units of 0 or less in the form."""
        cec_save_by_staff(entry=obj, adding=not change, today=clock.today_for(obj.user))

    @admin.display(description="Member ID", ordering="user__member_id")
    def member_id(self, obj):
        return obj.user.member_id
