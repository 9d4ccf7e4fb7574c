"""The admin refund page: amounts per line, a required keep-or-undo choice for each renewal, a page that says what
will happen before the refund and what happened after; the receipt lists refunds."""

import html as html_lib
import re
import subprocess
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from acsm_portal.formats import format_range
from certifications.models import Cycle
from payments.models import Refund
from payments.stripe_gateway import client as stripe_client
from tests.payments.refund_helpers import closed_port, line_of, paid, refund_form

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("localstripe")]


@pytest.fixture
def staff_client(client, db):
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_payment", "add_refund"]))
    client.force_login(staff)
    return client


def text(response) -> str:
    """The page's text, tags dropped and spaces squeezed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def url(payment) -> str:
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def test_the_form_offers_each_line_in_full_and_asks_keep_or_undo_with_no_default(staff_client, user):
    payment = paid(user, "CPT", "EP", total="130.00")
    cpt, ep = line_of(payment, "CPT"), line_of(payment, "EP")
    cycle = Cycle.objects.get(pk=ep.cycle_id)
    number = Cycle.objects.get(pk=ep.renewed_cycle_id).certificate.number
    page = staff_client.get(url(payment))
    html = page.content.decode()
    assert f'name="amount_{cpt.pk}" value="60.00"' in html and f'name="amount_{ep.pk}" value="70.00"' in html
    assert f'name="renewal_{ep.pk}" value="undo"' in html and "checked" not in html
    said = text(page)
    assert "$130.00 left to refund" in said
    assert (f"Undo the renewal. EP renewal will be undone: cycle {format_range(cycle.start, cycle.end)} opens again; "
            f"certificate {number} will be voided.") in said
    assert (f"Keep the renewal. EP renewal stays: cycle {format_range(cycle.start, cycle.end)} stays renewed; "
            f"certificate {number} stays valid.") in said


def test_review_without_a_choice_says_so_and_keeps_the_input(staff_client, user):
    payment = paid(user, "CPT", "EP", total="130.00")
    ep = line_of(payment, "EP")
    response = staff_client.post(url(payment), refund_form(payment, amounts={"EP": "25.50"}, reason="Late fee waived",
                                                           step="review"))
    assert response.status_code == 200
    assert "Choose whether the EP renewal is kept or undone." in text(response)
    html = response.content.decode()
    assert f'name="amount_{ep.pk}" value="25.50"' in html and 'value="Late fee waived"' in html
    assert Refund.objects.count() == 0


def test_review_says_what_will_happen_then_confirm_refunds_and_says_what_happened(staff_client, user):
    payment = paid(user, "CPT", "EP", total="130.00")
    cpt, ep = line_of(payment, "CPT"), line_of(payment, "EP")
    renewed = {line.pk: Cycle.objects.get(pk=line.cycle_id) for line in (cpt, ep)}
    numbers = {line.pk: Cycle.objects.get(pk=line.renewed_cycle_id).certificate.number for line in (cpt, ep)}
    form = refund_form(payment, amounts={"CPT": "60.00", "EP": "70.00"}, renewals={"CPT": "keep", "EP": "undo"},
                       step="review")
    review = staff_client.post(url(payment), form)
    said = text(review)
    ep_range, cpt_range = (format_range(renewed[x].start, renewed[x].end) for x in (ep.pk, cpt.pk))
    assert (f"EP Recertification: refund $70.00 of $70.00. EP renewal will be undone: cycle {ep_range} opens again; "
            f"certificate {numbers[ep.pk]} will be voided.") in said
    assert (f"CPT Recertification: refund $60.00 of $60.00. CPT renewal stays: cycle {cpt_range} stays renewed; "
            f"certificate {numbers[cpt.pk]} stays valid.") in said
    assert f"All of the payment is then refunded and order {payment.order.number} is marked refunded." in said
    assert 'value="Refund $130.00 through Stripe"' in review.content.decode()
    assert Refund.objects.count() == 0

    form.pop("review")
    done = staff_client.post(url(payment), {**form, "confirm": "1"}, follow=True)
    said = text(done)
    assert f"Refunded $130.00 of payment #{payment.pk} (order {payment.order.number})." in said
    assert (f"EP Recertification: $70.00 refunded. EP renewal undone: cycle {ep_range} is open again; certificate "
            f"{numbers[ep.pk]} voided.") in said
    assert (f"CPT Recertification: $60.00 refunded. CPT renewal kept: cycle {cpt_range} stays renewed; certificate "
            f"{numbers[cpt.pk]} stays valid.") in said
    again = staff_client.post(url(payment), {**form, "confirm": "1"})  # the same form, sent again
    assert again.status_code == 302
    assert Refund.objects.get().amount == Decimal("130.00")
    assert Cycle.objects.get(pk=ep.cycle_id).state == "open"


def test_receipt_page_and_pdf_list_refunds(staff_client, client, user, tmp_path):
    payment = paid(user, "CPT", "EP", total="130.00")
    ep = line_of(payment, "EP")
    cycle = Cycle.objects.get(pk=ep.cycle_id)
    number = Cycle.objects.get(pk=ep.renewed_cycle_id).certificate.number
    staff_client.post(url(payment), refund_form(payment, amounts={"EP": "30.00"}, renewals={"EP": "undo"}))
    client.force_login(user)
    page = text(client.get(reverse("receipt", args=[payment.order.number])))
    undone = f"EP renewal undone: cycle {format_range(cycle.start, cycle.end)} is open again; certificate {number} voided."
    assert f"EP Recertification {undone} $30.00" in page
    assert "Refunded in all: $30.00 · Net paid: $100.00" in page
    pdf = tmp_path / "receipt.pdf"
    pdf.write_bytes(client.get(reverse("receipt_pdf", args=[payment.order.number])).content)
    layout = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                     check=True).stdout.split())
    for expected in ("Refunds", "EP Recertification", "$30.00", number, "Refunded in all $30.00", "Net paid $100.00"):
        assert expected in layout, expected


def test_a_refund_stripe_did_not_answer_stays_pending_and_can_be_asked_again(staff_client, user, settings):
    payment = paid(user, "EP", total="70.00")
    ep = line_of(payment, "EP")
    form = refund_form(payment, amounts={"EP": "70.00"}, renewals={"EP": "undo"})
    emulator, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed_port()}"
    response = staff_client.post(url(payment), form)
    said = text(response)
    assert "Stripe did not answer, so the refund is still pending." in said
    refund = Refund.objects.get()
    assert refund.state == "pending"
    assert f"Refund #{refund.pk} of $70.00 is pending: Stripe has not answered for it yet." in text(
        staff_client.get(url(payment)))
    assert f'name="key" value="{form["key"]}"' in response.content.decode()  # sending it again asks again
    settings.STRIPE_API_BASE = emulator
    done = staff_client.post(url(payment), {"retry": refund.pk}, follow=True)
    assert f"Refunded $70.00 of payment #{payment.pk}" in text(done)
    refund.refresh_from_db()
    assert refund.state == "succeeded"
    assert Cycle.objects.get(pk=ep.cycle_id).state == "open"


def test_a_pending_refunds_form_sent_again_with_other_amounts_is_refused(staff_client, user, settings):
    payment = paid(user, "CPT", "EP", total="130.00")
    form = refund_form(payment, amounts={"EP": "70.00"}, renewals={"EP": "undo"})
    emulator, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed_port()}"
    staff_client.post(url(payment), form)
    refund = Refund.objects.get()
    settings.STRIPE_API_BASE = emulator
    refused = (f"Refund #{refund.pk} of $70.00 from this form (EP Recertification $70.00, undo the renewal) is still "
               "pending at Stripe, and it cannot be changed: nothing new was sent. Ask Stripe again for it as it is; "
               "once it has succeeded, refund anything more on a fresh refund page.")
    for step in ("confirm", "review"):
        edited = refund_form(payment, amounts={"EP": "50.00", "CPT": "60.00"}, renewals={"EP": "undo", "CPT": "keep"},
                             key=form["key"], step=step)
        response = staff_client.post(url(payment), edited)
        assert response.status_code == 200
        assert refused in text(response)
        assert f'name="key" value="{form["key"]}"' in response.content.decode()
        assert f'name="amount_{line_of(payment, "EP").pk}" value="50.00"' in response.content.decode()
    review = staff_client.post(url(payment), refund_form(payment, amounts={"EP": "70.00"}, renewals={"EP": "undo"},
                                                         key=form["key"], step="review"))
    assert (f"Refund #{refund.pk} of $70.00 was already sent from this form and is pending: ask Stripe again for it "
            "above; the money goes back once.") in text(review)
    refund.refresh_from_db()
    assert (Refund.objects.count(), refund.state, refund.amount) == (1, "pending", Decimal("70.00"))
    assert [r.amount for r in stripe_client().v1.refunds.list(params={"limit": 100}).data
            if r.payment_intent == payment.stripe_payment_intent] == []
    done = staff_client.post(url(payment), form, follow=True)  # the form as it was sent asks Stripe again
    assert f"Refunded $70.00 of payment #{payment.pk}" in text(done)
    assert Refund.objects.get().state == "succeeded"


def test_the_confirm_page_says_a_payment_is_refunded_only_once_the_pending_refunds_succeed(staff_client, user,
                                                                                            settings):
    payment = paid(user, "EP", total="70.00")
    emulator, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed_port()}"
    staff_client.post(url(payment), refund_form(payment, amounts={"EP": "30.00"}, renewals={"EP": "keep"}))
    settings.STRIPE_API_BASE = emulator
    review = staff_client.post(url(payment), refund_form(payment, amounts={"EP": "40.00"}, renewals={"EP": "keep"},
                                                         seen="30.00", step="review"))
    assert ("$0.00 of the payment will be left to refund, and $30.00 of it is in other refunds still pending; the "
            "order stays paid until they succeed too.") in text(review)
