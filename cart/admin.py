from django.contrib import admin

from acsm_portal.admin import ReadOnlyAdminMixin

from .models import Cart, CartLine


class CartLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CartLine
    fields = ("description", "unit_price", "added_at")
    readonly_fields = fields
    extra = 0


@admin.register(Cart)
class CartAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "member_id", "updated_at")
    search_fields = ("user__member_id", "user__email", "user__last_name")
    list_select_related = ("user",)
    inlines = [CartLineInline]
    show_full_result_count = False

    @admin.display(description="Member ID", ordering="user__member_id")
    def member_id(self, obj):
        return obj.user.member_id
