"""The checkout page writes its billing fields out (payments/_billing_fields.html) as crispy-forms would render them:
the two stay the same markup, with and without a saved address; a form sent back with errors is crispy-forms'."""

import re
from decimal import Decimal

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django.urls import reverse

from accounts.models import BillingAddress
from payments.forms import BillingForm
from tests.payments.helpers import cart_with

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("localstripe")]


def markup(html: str) -> str:
    """``html`` with the whitespace between and inside tags that browsers ignore taken out."""
    html = re.sub(r"\s+", " ", html)
    return re.sub(r"\s*(<|>)\s*", r"\1", html).strip()


def billing_fields(page: str) -> str:
    """The billing fields of the checkout page: between the error box and the payment heading."""
    start = page.index('<div id="checkout-error"')
    start = page.index("</div>", start) + len("</div>")
    return page[start:page.index('<h2 class="box-title mt-4">Payment information</h2>')]


@pytest.mark.parametrize("address", [None, {"line1": "9 Elm St <rear>", "line2": "Apt 2 & 3", "city": "Dayton",
                                            "state": "OH", "postal_code": "45402", "country": "CA"}])
def test_the_written_out_fields_are_crispy_forms_markup(user_client, user, address):
    if address:
        BillingAddress.objects.create(user=user, **address)
    cart_with(user, "CPT", "EP")
    page = user_client.get(reverse("checkout")).content.decode()
    form = BillingForm(initial={**BillingForm.initial_for(user), "expected_total": Decimal("130.00")})
    assert markup(billing_fields(page)) == markup(as_crispy_form(form))
    if address:
        assert 'value="9 Elm St &lt;rear&gt;"' in page and 'value="Apt 2 &amp; 3"' in page


def test_a_form_sent_back_with_errors_shows_them(user_client, user):
    cart_with(user, "CPT")
    page = user_client.post(reverse("checkout"), {"name": "Jordan Lee", "line1": "", "city": "Springfield",
                                                   "postal_code": "62701", "country": "U1",
                                                   "expected_total": "60.00"}).content.decode()
    assert 'name="line1"' in page and "is-invalid" in page
    assert "Use the two-letter country code, e.g. US." in page
