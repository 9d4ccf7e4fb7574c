from decimal import Decimal

from django import forms
from django.core.exceptions import PermissionDenied
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.fields import FiniteDecimalField

from .models import Order, OrderLine, OrderLog, Payment, PaymentLog, Refund, WebhookEvent
from .services import PaymentError, payment_refund


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = ("description", "quantity", "unit_price", "total_price", "certification", "cycle", "renewed_cycle")
    readonly_fields = fields
    extra = 0


class PaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Payment
    fields = ("link", "state", "amount", "refunded_amount", "card_brand", "card_last4", "created_at")
    readonly_fields = fields
    extra = 0

    @admin.display(description="Payment")
    def link(self, obj):
        return format_html('<a href="{}">#{}</a>', reverse("admin:payments_payment_change", args=[obj.pk]), obj.pk)


class OrderLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLog
    fields = ("at", "from_state", "to_state", "actor", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("number", "user", "state", "total", "created_at", "paid_at", "receipt_emailed_at")
    list_filter = ("state", "created_at")
    search_fields = ("number", "user__member_id", "user__email", "user__last_name")
    list_select_related = ("user",)
    inlines = [OrderLineInline, PaymentInline, OrderLogInline]
    show_full_result_count = False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("payments.view_order")


class PaymentLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentLog
    fields = ("at", "from_state", "to_state", "actor", "note")
    readonly_fields = fields
    extra = 0


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    fields = ("created_at", "amount", "reason", "created_by", "stripe_refund")
    readonly_fields = fields
    extra = 0


class RefundForm(forms.Form):
    amount = FiniteDecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=300)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "order", "state", "amount", "refunded_amount", "card_brand", "card_last4", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("order__number", "stripe_payment_intent", "order__user__member_id", "order__user__email")
    list_select_related = ("order",)
    inlines = [RefundInline, PaymentLogInline]
    readonly_fields = ("refund_link",)
    show_full_result_count = False

    def get_urls(self):
        return [
            path("<int:payment_id>/refund/", self.admin_site.admin_view(self.refund_view), name="payments_payment_refund"),
            *super().get_urls(),
        ]

    @admin.display(description="Refund")
    def refund_link(self, obj):
        if obj.state != "succeeded":
            return "—"
        return format_html('<a class="button" href="{}">Refund…</a>', reverse("admin:payments_payment_refund",
                                                                              args=[obj.pk]))

    def get_fields(self, request, obj=None):
        return ["order", "state", "amount", "refunded_amount", "card_brand", "card_last4", "stripe_payment_intent",
                "failure_message", "state_changed_by", "created_at", "refund_link"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def refund_view(self, request, payment_id: int):
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        payment = get_object_or_404(Payment, pk=payment_id)
        left = payment.amount - payment.refunded_amount
        form = RefundForm(request.POST or None, initial={"amount": left})
        if request.method == "POST" and form.is_valid():
            try:
                refund = payment_refund(payment_id=payment.pk, amount=form.cleaned_data["amount"], by=request.user,
                                        reason=form.cleaned_data["reason"])
            except PaymentError as exc:
                form.add_error("amount", str(exc))
            else:
                self.message_user(request, f"Refunded ${refund.amount} of payment #{payment.pk}.", messages.SUCCESS)
                return redirect("admin:payments_payment_change", payment.pk)
        context = {**self.admin_site.each_context(request), "title": f"Refund payment #{payment.pk}",
                   "payment": payment, "left": left, "form": form, "opts": self.model._meta}
        return TemplateResponse(request, "admin/payments/refund.html", context)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("payments.view_payment")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "received_at", "outcome")
    list_filter = ("type",)
    search_fields = ("event_id",)
