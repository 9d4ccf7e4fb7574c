from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .forms import time_zone_choices
from .models import BillingAddress, User, new_member_id
from .services import person_time_zone_set


class BillingAddressInline(admin.StackedInline):
    model = BillingAddress
    extra = 0
    max_num = 1


class PortalUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")

    def save(self, commit=True):
        """A new person gets a free six-digit member ID, as ``User.objects.create_user`` gives one."""
        user = super().save(commit=False)
        while not user.member_id or User.objects.filter(member_id=user.member_id).exists():
            user.member_id = new_member_id()
        if commit:
            user.save()
            self.save_m2m()
        return user


class PortalUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "time_zone" in self.fields:
            self.fields["time_zone"].widget = forms.Select(choices=time_zone_choices(
                unset="Not set: the portal's time until the person's browser or profile sets one"))


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = PortalUserChangeForm
    add_form = PortalUserCreationForm
    inlines = [BillingAddressInline]
    ordering = ("last_name", "first_name")
    list_display = ("member_id", "email", "first_name", "last_name", "is_staff", "is_active")
    list_filter = ("is_staff", "is_active", "groups", "time_zone")
    search_fields = ("member_id", "email", "first_name", "last_name")
    # The person's own choice: changed on their Email preferences page or by a reminder's unsubscribe link, not here.
    readonly_fields = ("date_joined", "last_login", "reminders_enabled", "reminders_changed_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Certificant", {"fields": ("first_name", "last_name", "member_id", "time_zone")}),
        ("Email", {"fields": ("reminders_enabled", "reminders_changed_at")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    def save_model(self, request, obj, form, change):
        """A changed time zone goes through the same service as the profile page (locked, logged, and a passed
        deadline stays passed)."""
        zone = obj.time_zone
        zone_changed = change and "time_zone" in form.changed_data
        if zone_changed:
            obj.time_zone = form.initial.get("time_zone", "")
        super().save_model(request, obj, form, change)
        if zone_changed:
            person_time_zone_set(user=obj, name=zone)

    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "password1", "password2")}),
    )
