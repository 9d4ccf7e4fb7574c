from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.services import billing_address_save
from acsm_portal import clock
from cart.services import cart_recheck

from . import rules
from .forms import BillingForm
from .models import Order, Payment
from .pdf import receipt_pdf
from .selectors import receipt_refunds
from .services import (
    PaymentError,
    order_place,
    payment_charge,
    payment_refresh,
    payment_start,
)
from .webhooks import WebhookRejected, webhook_handle


@require_http_methods(["GET", "POST"])
def checkout(request):
    today = clock.today_for(request.user)
    if request.method == "GET":
        checked = cart_recheck(user=request.user, today=today)
        for message in checked.messages:
            messages.warning(request, message)
        if not checked.lines:
            messages.info(request, "Your cart is empty.")
            return redirect("cart")
        form = BillingForm(initial={**BillingForm.initial_for(request.user), "expected_total": checked.total})
        return render(request, "payments/checkout.html", _checkout_context(checked, form))

    form = BillingForm(request.POST)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    if not form.is_valid():
        if wants_json:
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return render(request, "payments/checkout.html",
                      _checkout_context(cart_recheck(user=request.user, today=today), form))
    try:
        order = order_place(user=request.user, billing=form.billing(), expected_total=form.cleaned_data["expected_total"],
                            today=today)
        if form.cleaned_data["save_to_profile"]:
            b = form.billing()
            billing_address_save(user=request.user, line1=b.line1, line2=b.line2, city=b.city, state=b.state,
                                 postal_code=b.postal_code, country=b.country)
        payment, client_secret = payment_start(order=order)
    except PaymentError as exc:
        if wants_json:
            return JsonResponse({"error": str(exc), "cart_url": reverse("cart")}, status=409)
        messages.error(request, str(exc))
        return redirect("cart")
    if not wants_json:
        messages.error(request, "Card payment needs JavaScript; please enable it and try again.")
        return redirect("checkout")
    return JsonResponse({
        "payment": payment.pk,
        "state": payment.state,
        "client_secret": client_secret,
        "charge_url": reverse("payment_charge", args=[payment.pk]),
        "refresh_url": reverse("payment_refresh", args=[payment.pk]),
        "receipt_url": reverse("receipt", args=[order.number]),
    })


def _checkout_context(checked, form):
    return {
        "lines": checked.lines,
        "total": checked.total,
        "form": form,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }


def _outcome_json(request, payment_id: int, outcome):
    order_number = Payment.objects.filter(pk=payment_id).values_list("order__number", flat=True).get()
    body = {"state": outcome.state, "message": outcome.message}
    if outcome.state == rules.SUCCEEDED:
        body["receipt_url"] = reverse("receipt", args=[order_number])
    if outcome.client_secret:
        body["client_secret"] = outcome.client_secret
    return JsonResponse(body, status=402 if outcome.state == rules.FAILED else 200)


@require_POST
def charge(request, payment_id: int):
    get_object_or_404(Payment, pk=payment_id, order__user=request.user)
    method = request.POST.get("payment_method", "")
    if not method.startswith(("pm_", "card_", "src_")):
        return JsonResponse({"state": "failed", "message": "The card details did not arrive; please try again."},
                            status=400)
    try:
        outcome = payment_charge(payment_id=payment_id, user=request.user, payment_method=method)
    except PaymentError as exc:
        return JsonResponse({"state": "failed", "message": str(exc)}, status=409)
    return _outcome_json(request, payment_id, outcome)


@require_POST
def refresh(request, payment_id: int):
    get_object_or_404(Payment, pk=payment_id, order__user=request.user)
    return _outcome_json(request, payment_id, payment_refresh(payment_id=payment_id, user=request.user))


def _order_for(request, number: str) -> Order:
    orders = Order.objects.select_related("user").prefetch_related("lines", "payments")
    if not (request.user.is_staff and request.user.has_perm("payments.view_order")):
        orders = orders.filter(user=request.user)
    order = get_object_or_404(orders, number=number)
    if order.state not in (Order.State.PAID, Order.State.REFUNDED):
        raise Http404("No receipt for an unpaid order.")
    return order


@require_GET
def receipt(request, number: str):
    order = _order_for(request, number)
    payment = next((p for p in order.payments.all() if p.state in (rules.SUCCEEDED, rules.REFUNDED)), None)
    return render(request, "payments/receipt.html", {"order": order, "payment": payment,
                                                     "paid_at": clock.moment_text(order.paid_at, order),
                                                     **receipt_refunds(order=order)})


@require_GET
def receipt_download(request, number: str):
    order = _order_for(request, number)
    response = HttpResponse(receipt_pdf(order=order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{order.number}.pdf"'
    return response


@login_not_required
@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        outcome = webhook_handle(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except WebhookRejected as exc:
        return HttpResponseBadRequest(str(exc))
    return HttpResponse(outcome)
