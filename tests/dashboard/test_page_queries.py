"""The pages certificants open most read a fixed handful of statements whatever they hold, and showing a cart that
needs no change takes no lock."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import BillingAddress
from cart.models import CartLine
from cart.services import cart_add_renewal
from cecs.models import CECEntry
from certifications.models import CertificationType
from tests.audits.helpers import audited
from tests.factories import CECEntryFactory, renewable_certification
from tests.payments.helpers import cart_with

pytestmark = pytest.mark.django_db

# What every logged-in page reads before it shows anything (the floor): the session and the person.
FLOOR = ['FROM "django_session"', 'FROM "accounts_user"']
TILES, CREDITS, LINES = "FROM certifications_cycle cy", "FROM cecs_cecentry", "FROM cart_cartline l"
AUDITS = 'FROM "audits_audit"'  # each certification's latest audit, when one of the tiles' was ever audited


def reads(captured, *expected: str) -> bool:
    """Whether the captured statements are, in order, those reading from ``expected``."""
    return len(captured) == len(expected) and all(e in q["sql"] for q, e in zip(captured, expected))


def four_certifications_with(user, credits: int):
    """GEI, CPT, EP and CEP renewable, CPT and EP in the cart, and ``credits`` credits in all."""
    cart_with(user, "CPT", "EP")
    cart_with(user, "GEI", "CEP")
    CartLine.objects.filter(cart__user=user, certification__certification_type__code__in=["GEI", "CEP"]).delete()
    CECEntry.objects.bulk_create(CECEntryFactory.build_batch(credits - 4, user=user, format="teaching"))
    assert CECEntry.objects.filter(user=user).count() == credits


@pytest.mark.parametrize("credits", [60, 500])
def test_the_dashboard_reads_the_floor_the_tiles_and_the_credits(user_client, user, credits,
                                                                 django_assert_num_queries):
    four_certifications_with(user, credits)
    user_client.get(reverse("dashboard"))  # the yearly caps are read into the cache
    with django_assert_num_queries(4) as captured:
        html = user_client.get(reverse("dashboard")).content.decode()
    # The tiles come with their CPR cards, certificates, cart lines and whether they were ever audited in one
    # statement, the credits in another. None was audited, so no audit is read.
    assert reads(captured, *FLOOR, TILES, CREDITS)
    assert html.count('class="box tile h-100"') == 4
    assert html.count('<td data-label="Date Earned">') == credits
    assert "2 renewals in your cart" in html


def test_the_audits_are_read_when_a_certification_was_audited(user_client, user, django_assert_num_queries):
    audited(user, "CPT")
    user_client.get(reverse("dashboard"))
    with django_assert_num_queries(5) as captured:
        html = user_client.get(reverse("dashboard")).content.decode()
    assert reads(captured, *FLOOR, TILES, CREDITS, AUDITS)
    assert "Submit audit documents" in html


def test_the_cart_page_reads_the_cart_without_a_lock(user_client, user, django_assert_num_queries):
    four_certifications_with(user, 60)
    with django_assert_num_queries(5) as captured:
        html = user_client.get(reverse("cart")).content.decode()
    assert reads(captured, *FLOOR, TILES, CREDITS, LINES)
    assert not any("FOR UPDATE" in q["sql"] for q in captured)
    assert '<td class="text-end fw-bold cart-total">$130.00</td>' in html


def test_the_checkout_page_reads_the_cart_and_the_billing_address(user_client, user, django_assert_num_queries):
    four_certifications_with(user, 60)
    BillingAddress.objects.create(user=user, line1="9 Elm St", city="Dayton", state="OH", postal_code="45402")
    with django_assert_num_queries(6) as captured:
        html = user_client.get(reverse("checkout")).content.decode()
    assert reads(captured, *FLOOR, TILES, CREDITS, LINES, "FROM accounts_billingaddress")
    assert '<td class="text-end fw-bold order-total">$130.00</td>' in html
    assert 'name="line1" value="9 Elm St"' in html


def test_a_cart_that_must_change_is_locked_and_read_again(user_client, user):
    [cpt] = cart_with(user, "CPT")
    CertificationType.objects.filter(code="CPT").update(renewal_fee=Decimal("65.00"))
    with CaptureQueriesContext(connection) as captured:
        html = user_client.get(reverse("cart")).content.decode()
    statements = [q["sql"] for q in captured]
    locked = next(i for i, sql in enumerate(statements) if "FOR UPDATE" in sql and "cart_cart" in sql)
    # Under the lock the lines are read again before the new price is written.
    assert any("cart_cartline" in sql and sql.lstrip().startswith("SELECT") for sql in statements[locked + 1:])
    assert any(sql.startswith("UPDATE") and "cart_cartline" in sql for sql in statements[locked + 1:])
    assert "The price of CPT Recertification changed from $60.00 to $65.00." in html
    assert CartLine.objects.get(certification=cpt).unit_price == Decimal("65.00")
    # Shown again, nothing changes: no lock.
    with CaptureQueriesContext(connection) as captured:
        html = user_client.get(reverse("cart")).content.decode()
    assert not any("FOR UPDATE" in q["sql"] for q in captured)
    assert "changed from" not in html


def test_a_late_fee_added_on_display_is_in_the_cart(user_client, user, today):
    end = today - timedelta(days=1)  # the cycle ended yesterday: the renewal was put in the cart on its last day
    ep = renewable_certification(user, "EP", end - timedelta(days=3 * 365), end)
    cart_add_renewal(user=user, certification_id=ep.pk, today=end)
    html = user_client.get(reverse("cart")).content.decode()
    assert "A $80.00 late fee was added for EP" in html
    assert sorted(CartLine.objects.filter(certification=ep).values_list("kind", "unit_price")) == [
        ("late_fee", Decimal("80.00")), ("renewal", Decimal("70.00"))]
    assert html.index("EP Recertification") < html.index("EP Late fee")
