from django.contrib import admin

from .models import CECEntry, YearlyCap


@admin.register(YearlyCap)
class YearlyCapAdmin(admin.ModelAdmin):
    list_display = ("format", "max_cecs")
    list_editable = ("max_cecs",)
    list_display_links = ("format",)


@admin.register(CECEntry)
class CECEntryAdmin(admin.ModelAdmin):
    list_display = ("date_earned", "member_id", "user", "cecs", "course_name", "format", "credit_type", "source",
                    "date_reported")
    list_filter = ("format", "credit_type", "source", "date_earned")
    search_fields = ("user__member_id", "user__email", "user__first_name", "user__last_name", "course_name")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)
    date_hierarchy = "date_earned"
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False

    @admin.display(description="Member ID", ordering="user__member_id")
    def member_id(self, obj):
        return obj.user.member_id
