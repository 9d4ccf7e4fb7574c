from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from acsm_portal import clock

from .services import (
    CartError,
    CertificationNotFound,
    cart_add_renewal,
    cart_recheck,
    cart_remove_renewal,
)


def _back_to_tile(certification_id: int):
    return redirect(f"{reverse('dashboard')}#tile-{certification_id}")


@require_POST
def renew(request, certification_id: int):
    try:
        line = cart_add_renewal(user=request.user, certification_id=certification_id, today=clock.today_for(request.user))
    except CertificationNotFound:
        raise Http404("No such certification.") from None
    except CartError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{line.description} is in your cart.")
    return _back_to_tile(certification_id)


@require_POST
def remove(request, certification_id: int):
    try:
        removed = cart_remove_renewal(user=request.user, certification_id=certification_id)
    except CertificationNotFound:
        raise Http404("No such certification.") from None
    if removed:
        messages.success(request, "The renewal was removed from your cart.")
    if request.POST.get("next") == "cart":
        return redirect("cart")
    return _back_to_tile(certification_id)


@require_GET
def cart(request):
    result = cart_recheck(user=request.user, today=clock.today_for(request.user))
    for message in result.messages:
        messages.warning(request, message)
    return render(request, "cart/cart.html", {"lines": result.lines, "total": result.total})
