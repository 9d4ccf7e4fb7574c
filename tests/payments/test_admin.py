"""Staff's order list shows when each order was paid and its receipt emailed; an order's page its state log."""

import re

import pytest
from django.urls import reverse

from payments.models import Order
from tests.factories import UserFactory
from tests.payments.helpers import paid_order_without_stripe


def cells(html: str, row_of: str) -> list[str]:
    """The text of each cell of the list row holding ``row_of``."""
    row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if row_of in r)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


@pytest.mark.django_db
def test_the_order_list_shows_paid_at_and_receipt_emailed_at(client, user):
    order = paid_order_without_stripe(user, "CPT", total="60.00")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:payments_order_changelist")).content.decode()
    listed = html.split('id="result_list"')[1]
    headers = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', listed, re.S)]
    assert headers == ["Number", "User", "State", "Total", "Created at", "Paid at", "Receipt emailed at"]
    assert cells(html, order.number)[-1] == "-"  # not emailed yet
    Order.objects.filter(pk=order.pk).update(receipt_emailed_at=order.paid_at)
    html = client.get(reverse("admin:payments_order_changelist")).content.decode()
    assert cells(html, order.number)[-1] == cells(html, order.number)[-2] != "-"


@pytest.mark.django_db
def test_an_orders_page_shows_its_state_log(client, user):
    order = paid_order_without_stripe(user, "CPT", total="60.00")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    html = client.get(reverse("admin:payments_order_change", args=[order.pk])).content.decode()
    assert "Order logs" in html
    assert re.search(r"<td class=\"field-from_state\">\s*<p>pending</p>.*?<p>paid</p>.*?<p>test</p>", html, re.S)
