"""Staff see what each person was reminded of and when (on the person's page and in one list), and send one again."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.admin import UserAdmin
from accounts.models import User
from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.formats import format_date

from .models import Reminder
from .services import ReminderError, reminder_resend

RESEND_PERMISSION = "reminders.resend_reminder"


def _resend_link(obj: Reminder) -> str:
    if obj.pk is None or obj.state == Reminder.State.QUEUED:
        return "—"
    return format_html('<a class="button" href="{}">Send again</a>',
                       reverse("admin:reminders_reminder_resend", args=[obj.pk]))


class ReminderInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The person's reminders, newest first, on their page in the admin."""

    model = Reminder
    fk_name = "user"
    extra = 0
    can_delete = False
    verbose_name_plural = "Reminders sent"
    fields = ("kind", "certification_code", "offset", "about_day", "state", "sent_at", "sends", "skip_reason",
              "send_again")
    readonly_fields = fields
    ordering = ("-created_at", "-id")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("certification__certification_type")

    @admin.display(description="Certification")
    def certification_code(self, obj):
        return obj.certification.certification_type.code

    @admin.display(description="About")
    def about_day(self, obj):
        return format_date(obj.about)

    @admin.display(description="")
    def send_again(self, obj):
        return _resend_link(obj)


admin.site.unregister(User)


@admin.register(User)
class UserWithRemindersAdmin(UserAdmin):
    """The person's page with the reminders they were sent."""

    inlines = [*UserAdmin.inlines, ReminderInline]


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "person", "kind", "certification_code", "offset", "about_day", "state", "sent_at",
                    "sends", "send_again")
    list_filter = ("state", "kind", "offset")
    search_fields = ("user__email", "user__member_id", "user__last_name")
    list_select_related = ("user", "certification__certification_type")
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = ("user", "kind", "certification", "cycle", "offset", "about", "for_day", "state", "created_at",
                       "queued_at", "claimed_at", "sent_at", "sends", "skip_reason", "resend_by")
    actions = ["send_again_action"]

    @admin.display(description="Person", ordering="user__last_name")
    def person(self, obj):
        return f"{obj.user.get_full_name()} ({obj.user.member_id})"

    @admin.display(description="Certification")
    def certification_code(self, obj):
        return obj.certification.certification_type.code

    @admin.display(description="About", ordering="about")
    def about_day(self, obj):
        return format_date(obj.about)

    @admin.display(description="")
    def send_again(self, obj):
        return _resend_link(obj)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("reminders.view_reminder")

    def get_urls(self):
        return [path("<path:object_id>/resend/", self.admin_site.admin_view(self.resend_view),
                     name="reminders_reminder_resend"), *super().get_urls()]

    def _resend(self, request, reminder_id: int) -> bool | None:
        """Whether the reminder was queued again (False: it was already on its way; None: refused, said)."""
        try:
            _reminder, queued = reminder_resend(reminder_id=reminder_id, by=request.user)
        except ReminderError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        return queued

    def resend_view(self, request, object_id):
        """GET: confirm; POST: queue the reminder to be sent again, back to the person's page."""
        if not request.user.has_perm(RESEND_PERMISSION):
            raise PermissionDenied
        reminder = Reminder.objects.select_related("user", "certification__certification_type").filter(
            pk=unquote(object_id)).first() if str(object_id).isdigit() else None
        if reminder is None:
            raise Http404("No such reminder.")
        if request.method == "POST":
            queued = self._resend(request, reminder.pk)
            if queued:
                self.message_user(request, f"The reminder to {reminder.user.email} will be sent again within a "
                                           f"minute.", messages.SUCCESS)
            elif queued is False:
                self.message_user(request, "This reminder is already on its way; it was not queued twice.",
                                  messages.WARNING)
            return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[reminder.user_id]))
        return render(request, "admin/reminders/resend.html", {
            **self.admin_site.each_context(request), "reminder": reminder, "opts": self.model._meta,
            "title": "Send this reminder again?",
        })

    @admin.action(description="Send the selected reminders again", permissions=["resend"])
    def send_again_action(self, request, queryset):
        outcomes = [self._resend(request, pk) for pk in queryset.values_list("pk", flat=True)]
        done, waiting = outcomes.count(True), outcomes.count(False)
        if done:
            self.message_user(request, f"{done} reminder(s) will be sent again within a minute.", messages.SUCCESS)
        if waiting:
            self.message_user(request, f"{waiting} reminder(s) already on their way were left as they are.",
                              messages.WARNING)

    def has_resend_permission(self, request):
        return request.user.has_perm(RESEND_PERMISSION)
