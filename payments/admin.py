import uuid
from datetime import timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import PermissionDenied
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from acsm_portal.admin import ReadOnlyAdminMixin
from acsm_portal.fields import FiniteDecimalField

from .models import Order, OrderLine, OrderLog, Payment, PaymentLog, Refund, RefundLine, WebhookEvent
from .refunds import (
    KEEP, UNDO, LineRefund, LineState, payment_refund, refund_lines_state, refund_of_form, refund_plan,
    refund_retry,
)
from .services import PaymentError, payment_stalled_end


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
    fields = ("created_at", "state", "amount", "what_happened", "reason", "created_by", "stripe_refund",
              "emailed_at")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").prefetch_related("lines__order_line")

    @admin.display(description="What happened")
    def what_happened(self, obj):
        if obj.state == Refund.State.FAILED:
            return obj.failure_message
        return format_html_join(
            "", "<div>{}: ${}{}</div>",
            ((line.order_line.description, line.amount, f" – {line.outcome}" if line.outcome else "")
             for line in obj.lines.all()),
        )


class RefundForm(forms.Form):
    """A refund as staff ask for it: an amount for each order line with something left to refund (default: all
    that is left), for each renewal that stands a required choice to keep or undo it (no default), and why.
    ``key`` (the form's own) and ``seen_refunded`` (what was refunded when the page was opened) make a form sent
    twice, or two staff refunding at once, refund once."""

    reason = forms.CharField(max_length=300, help_text="For staff; the person is told what was refunded.")
    key = forms.UUIDField(widget=forms.HiddenInput)
    seen_refunded = FiniteDecimalField(max_digits=10, decimal_places=2, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, states: list[LineState], **kwargs):
        super().__init__(*args, **kwargs)
        self.states = states
        self.fields["key"].initial = uuid.uuid4()
        self.fields["seen_refunded"].initial = payment.refunded_amount
        for state in states:
            if state.left <= 0:
                continue
            pk = state.line.pk
            self.fields[f"amount_{pk}"] = FiniteDecimalField(
                label=f"Refund on {state.line.description}", max_digits=10, decimal_places=2, required=False,
                min_value=Decimal("0.00"), initial=state.left,
            )
            if state.asks_renewal:
                renewal = state.renewal
                undo = (renewal.if_undone if not renewal.refusal
                        else f"Not possible: {renewal.refusal}")
                self.fields[f"renewal_{pk}"] = forms.ChoiceField(
                    label=f"The {renewal.code} renewal", widget=forms.RadioSelect, required=False,
                    choices=[(KEEP, f"Keep the renewal. {renewal.if_kept}"), (UNDO, f"Undo the renewal. {undo}")],
                )

    def rows(self):
        """Each order line with its state and its bound fields (``None`` where it asks nothing)."""
        for state in self.states:
            pk = state.line.pk
            amount = self[f"amount_{pk}"] if f"amount_{pk}" in self.fields else None
            renewal = self[f"renewal_{pk}"] if f"renewal_{pk}" in self.fields else None
            yield state, amount, renewal

    def asked(self) -> list[LineRefund]:
        return [
            LineRefund(line_id=state.line.pk, amount=self.cleaned_data.get(f"amount_{state.line.pk}") or Decimal("0"),
                       renewal=self.cleaned_data.get(f"renewal_{state.line.pk}", ""))
            for state in self.states if f"amount_{state.line.pk}" in self.fields
        ]


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "order", "state", "amount", "refunded_amount", "card_brand", "card_last4", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("order__number", "stripe_payment_intent", "order__user__member_id", "order__user__email")
    list_select_related = ("order",)
    inlines = [RefundInline, PaymentLogInline]
    readonly_fields = ("refund_link",)
    show_full_result_count = False
    actions = ["end_stalled"]

    @admin.action(description="End the selected stalled attempts (cancel them at Stripe)", permissions=["end"])
    def end_stalled(self, request, queryset):
        """Cancel at Stripe, then end, each selected attempt waiting for 3-D Secure or for Stripe; report each."""
        for payment in queryset.order_by("pk"):
            try:
                done = payment_stalled_end(payment_id=payment.pk, actor=f"staff:{request.user.pk}",
                                           note="Ended by staff.", waited=timedelta(0))
            except PaymentError as exc:
                self.message_user(request, f"Payment #{payment.pk}: {exc}", messages.ERROR)
                continue
            if done.state == payment.state:
                self.message_user(request, f"Payment #{payment.pk} is {done.get_state_display().lower()}; "
                                           "only an attempt waiting for the bank or for Stripe can be ended.",
                                  messages.WARNING)
            else:
                self.message_user(request, f"Payment #{payment.pk} is now {done.get_state_display().lower()}.",
                                  messages.SUCCESS)

    def has_end_permission(self, request):
        return request.user.has_perm("payments.change_payment")

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
        """Refund line by line: the form (amounts, a keep-or-undo choice for each renewal that stands, why), then a
        page saying plainly what will happen to each certification, then the refund through Stripe; afterwards
        the payment's page says what happened. A pending refund Stripe did not answer for can be asked again."""
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("order__user"), pk=payment_id)
        if request.method == "POST" and "retry" in request.POST:
            return self._refund_retry(request, payment)
        # A form sent again is judged as it was first sent: its own refund does not shrink what it may ask.
        states = refund_lines_state(payment=payment, besides_key=_uuid_or_none(request.POST.get("key")))
        form = RefundForm(request.POST or None, payment=payment, states=states)
        plan, key = None, form["key"].value()
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if "confirm" in request.POST:
                    refund = payment_refund(payment_id=payment.pk, lines=form.asked(), by=request.user,
                                            reason=data["reason"], key=data["key"],
                                            seen_refunded=data["seen_refunded"])
                    return self._refund_done(request, payment, refund)
                if "edit" not in request.POST:
                    made = refund_of_form(key=data["key"], payment_id=payment.pk, lines=form.asked())
                    if made is not None:
                        raise PaymentError(
                            f"Refund #{made.pk} of ${made.amount} was already sent from this form and is pending: "
                            "ask Stripe again for it above; the money goes back once."
                            if made.state == Refund.State.PENDING else
                            f"Refund #{made.pk} of ${made.amount} was already made from this form. Open the refund "
                            "page again to refund more.")
                    plan = refund_plan(payment=payment, lines=form.asked(), seen_refunded=data["seen_refunded"])
            except PaymentError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                if not Refund.objects.filter(key=data["key"], state=Refund.State.PENDING).exists():
                    key = uuid.uuid4()  # nothing of this form is pending at Stripe: sending it again is a new refund
        context = {**self.admin_site.each_context(request), "payment": payment, "form": form, "plan": plan,
                   "key": key, "opts": self.model._meta,
                   "left": payment.amount - payment.refunded_amount,
                   "pending": payment.refunds.filter(state=Refund.State.PENDING),
                   "title": f"Refund payment #{payment.pk}" if plan is None else f"Confirm the refund of payment "
                                                                                  f"#{payment.pk}"}
        template = "admin/payments/refund_confirm.html" if plan else "admin/payments/refund.html"
        return TemplateResponse(request, template, context)

    def _refund_done(self, request, payment: Payment, refund: Refund):
        if refund.state == Refund.State.PENDING:
            self.message_user(request, f"Refund #{refund.pk} of ${refund.amount} is being made; its outcome shows "
                                       "below once Stripe answers.", messages.WARNING)
        elif refund.state == Refund.State.FAILED:
            self.message_user(request, f"Refund #{refund.pk} failed: {refund.failure_message}", messages.ERROR)
        else:
            self.message_user(request, f"Refunded ${refund.amount} of payment #{payment.pk} (order "
                                       f"{payment.order.number}). {payment.order.user.email} will be emailed.",
                              messages.SUCCESS)
            for line in refund.lines.select_related("order_line"):
                said = f"{line.order_line.description}: ${line.amount} refunded."
                level = messages.ERROR if line.outcome.startswith(RefundLine.NOT_UNDONE) else messages.INFO
                self.message_user(request, f"{said} {line.outcome}" if line.outcome else said, level)
        return redirect("admin:payments_payment_change", payment.pk)

    def _refund_retry(self, request, payment: Payment):
        refund = get_object_or_404(Refund, pk=request.POST.get("retry") or 0, payment=payment)
        try:
            refund = refund_retry(refund_id=refund.pk, by=request.user)
        except PaymentError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return redirect("admin:payments_payment_refund", payment.pk)
        return self._refund_done(request, payment, refund)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("payments.view_payment")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("event_id", "type", "received_at", "outcome")
    list_filter = ("type",)
    search_fields = ("event_id",)
