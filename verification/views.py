"""The public status pages (no log-in): a certificate's verify page, the search for one by its number and its
holder's last name, and Find a certified professional; and the person's own choice to be listed there.

Every lookup is throttled per address (``settings.VERIFY_RATE``, django-ratelimit; 429 beyond it). An unknown
verify code, an unknown certificate number and a last name that does not match all get one and the same answer,
404 with the same page, so that neither tells anything the others do not.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import is_ratelimited

from accounts.forms import FindListingForm
from accounts.services import person_find_listing_set
from acsm_portal import clock

from .forms import FindForm, VerifySearchForm
from .selectors import FIND_LIMIT, certificate_code_for, certificate_public, find_people

# The verify page and the search count together: one budget of lookups per address.
VERIFY_GROUP = "verification.status"
FIND_GROUP = "verification.find"


def _verify_rate(group, request) -> str:
    return settings.VERIFY_RATE


def _limited(request, group: str) -> bool:
    """Count this lookup against the address's budget; whether it is over (``VERIFY_RATE``)."""
    return is_ratelimited(request, group=group, key="ip", rate=_verify_rate, increment=True)


def _link(name: str, fallback: str) -> str:
    """The address of the page named ``name``, or ``fallback`` while that page is not there."""
    try:
        return reverse(name)
    except NoReverseMatch:
        return fallback


def _search_page(request, *, form: VerifySearchForm, status: int = 200, not_found: bool = False,
                 limited: bool = False):
    response = render(request, "verification/search.html", {
        "form": form, "not_found": not_found, "limited": limited,
        "document_url": _link("verify_document", "/verify/document/"),
        "credential_url": _link("verify_credential", "/verify/credential/"),
    }, status=status)
    if limited:
        response["Retry-After"] = "60"
    return response


def _not_found(request):
    """The one answer to an unknown code, an unknown number and a name that does not match: 404, a blank search."""
    return _search_page(request, form=VerifySearchForm(), status=404, not_found=True)


@login_not_required
@never_cache
@require_GET
def verify(request, code: str):
    """A certificate's public page: its holder's name, certification, number, issued on, valid through and its
    live status in words and colour, with when it was checked (the portal's time); nothing else about the person.
    404 (the search's page) for an unknown code; 429 beyond ``VERIFY_RATE`` lookups a minute from one address."""
    if _limited(request, VERIFY_GROUP):
        return _search_page(request, form=VerifySearchForm(), status=429, limited=True)
    certificate = certificate_public(code=code)
    if certificate is None:
        return _not_found(request)
    zone = clock.portal_zone()
    checked = clock.now().astimezone(zone)
    return render(request, "verification/verify.html", {
        "c": certificate, "checked": checked, "zone_label": clock.zone_label(zone.key),
    })


@login_not_required
@never_cache
@require_GET
def verify_search(request):
    """The search by certificate number and the holder's last name (a GET form). A match goes to the
    certificate's verify page; anything else is the not-found answer (404), the same whichever part was wrong; an
    incomplete form says what is missing (400). Each search counts toward ``VERIFY_RATE`` (429 beyond)."""
    if not {"number", "last_name"} & set(request.GET):
        return _search_page(request, form=VerifySearchForm())
    if _limited(request, VERIFY_GROUP):
        return _search_page(request, form=VerifySearchForm(), status=429, limited=True)
    form = VerifySearchForm(request.GET)
    if not form.is_valid():
        return _search_page(request, form=form, status=400)
    code = certificate_code_for(number=form.cleaned_data["number"], last_name=form.cleaned_data["last_name"])
    if code is None:
        return _not_found(request)
    return redirect("verify", code=code)


@login_not_required
@never_cache
@require_GET
def find_a_pro(request):
    """Find a certified professional: people who chose to be listed, found by their exact last name and, if given,
    their state; at most ``FIND_LIMIT``. Each search counts toward ``VERIFY_RATE`` (429 beyond)."""
    form = FindForm(request.GET if {"last_name", "state"} & set(request.GET) else None)
    result, status, limited = None, 200, False
    if form.is_bound:
        if _limited(request, FIND_GROUP):
            form, status, limited = FindForm(), 429, True
        elif form.is_valid():
            result = find_people(last_name=form.cleaned_data["last_name"], state=form.cleaned_data["state"])
        else:
            status = 400
    response = render(request, "verification/find.html", {
        "form": form, "result": result, "limited": limited, "limit": FIND_LIMIT,
    }, status=status)
    if limited:
        response["Retry-After"] = "60"
    return response


@require_POST
def find_a_pro_listing(request):
    """The person's choice, from their profile page, to be listed in Find a certified professional or not
    (``accounts.services.person_find_listing_set``); back to the profile with what it now is."""
    form = FindListingForm(request.POST)
    form.is_valid()  # one checkbox: always valid, absent means off
    listed = form.cleaned_data["listed"]
    person_find_listing_set(user_id=request.user.pk, listed=listed)
    if listed:
        messages.success(request, "Saved. You are listed in Find a certified professional.")
    else:
        messages.success(request, "Saved. You are not listed in Find a certified professional.")
    return redirect(reverse("profile") + "#find-listing")
