from django.contrib import admin

from .models import Cart, CartLine


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CartLineInline(admin.TabularInline):
    model = CartLine
    fields = ("description", "unit_price", "added_at")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    list_display = ("user", "member_id", "updated_at")
    search_fields = ("user__member_id", "user__email", "user__last_name")
    list_select_related = ("user",)
    inlines = [CartLineInline]
    show_full_result_count = False

    @admin.display(description="Member ID", ordering="user__member_id")
    def member_id(self, obj):
        return obj.user.member_id
