"""Staff manage providers, their approved courses and provider users here; completions are read-only (providers
post and retract them, through the services)."""

from django.contrib import admin
from django.db.models import Count

from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.fields import FiniteDecimalAdminMixin

from .models import Completion, Course, Provider, ProviderMember


class CourseInline(FiniteDecimalAdminMixin, admin.TabularInline):
    model = Course
    extra = 0
    fields = ("number", "title", "format", "cecs", "valid_from", "valid_to")


class ProviderMemberInline(admin.TabularInline):
    model = ProviderMember
    extra = 0
    fields = ("user",)
    autocomplete_fields = ("user",)
    verbose_name_plural = "provider users"


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "number", "active", "course_count", "contact_name", "contact_email")
    list_filter = ("active",)
    search_fields = ("name", "number")
    ordering = ("name",)
    fields = ("name", "number", "active", "contact_name", "contact_email", "contact_phone", "created_at")
    readonly_fields = ("created_at",)
    inlines = [CourseInline, ProviderMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(course_count=Count("courses"))

    @admin.display(description="approved courses", ordering="course_count")
    def course_count(self, provider):
        return provider.course_count


@admin.register(ProviderMember)
class ProviderMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "member_email", "provider")
    list_select_related = ("user", "provider")
    list_filter = ("provider",)
    search_fields = ("user__email", "user__last_name", "provider__name", "provider__number")
    autocomplete_fields = ("user",)

    @admin.display(description="email", ordering="user__email")
    def member_email(self, member):
        return member.user.email


@admin.register(Completion)
class CompletionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What providers posted, to look at: nothing here adds, changes or deletes one."""

    list_display = ("external_id", "provider", "member_id", "course_number", "completed_on", "cecs", "state",
                    "via", "created_at")
    list_select_related = ("provider", "course", "user")
    list_filter = ("provider", "state", "via")
    search_fields = ("external_id", "user__member_id")
    date_hierarchy = "completed_on"
    ordering = ("-created_at", "-id")
    readonly_fields = ("provider", "course", "external_id", "user", "completed_on", "cecs", "cec_entry", "state",
                       "via", "posted_by", "created_at", "retracted_at", "retracted_by", "retraction_reason",
                       "digest_sent_at")
    fields = readonly_fields

    @admin.display(description="member ID", ordering="user__member_id")
    def member_id(self, completion):
        return completion.user.member_id

    @admin.display(description="course", ordering="course__number")
    def course_number(self, completion):
        return completion.course.number


import providers.admin_tokens  # noqa: E402, F401  (the API tokens' admin)
