"""Two web nodes and two workers that share nothing but PostgreSQL, Redis and the bucket, behind nginx round robin:
one certificant's whole renewal, each request answered by the other node than the one before it.

The emulator's payment webhook goes to node b directly (not through nginx), so that the test's own requests alone
take turns in nginx's round robin and the alternation can be asserted request by request.
"""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse

from certifications.models import Certificate, CprUpload, CprUploadFile
from payments.models import Order
from tests.certifications.cpr_helpers import png_bytes, reviewer
from tests.conftest import WorkerMailbox, stripe_webhook_register
from tests.e2e.helpers import PASSWORD
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle
from tests.waits import wait_until

pytestmark = [pytest.mark.nodes]

BILLING = {"name": "Jordan Lee", "line1": "401 W Michigan St", "line2": "", "city": "Indianapolis", "state": "IN",
           "postal_code": "46202", "country": "US"}


def field(html: str, name: str) -> str:
    return re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html).group(1)


def test_a_renewal_walks_across_two_nodes_and_two_workers(nodes, s3_documents, localstripe):
    person = UserFactory(email="walker@example.com")
    certification = certification_with_cycle(person, "CPT")
    cycle = certification.cycles.get(state="open")
    short = certification.certification_type.required_cecs - Decimal("2")
    CECEntryFactory(user=person, date_earned=cycle.start, units=short, cecs=short, course_name="Earlier credits")
    staff = reviewer(email="reviewer@example.org")
    stripe_webhook_register(localstripe, f"{nodes.web_urls['b']}/payments/stripe/webhook/", name=nodes.queue)

    served: list[tuple[str, str, str]] = []  # (method, path, node) of every answer through nginx, in order

    def record(response, *args, **kwargs):
        served.append((response.request.method, urlsplit(response.url).path,
                       nodes.node_of(response.headers["X-Upstream"])))

    def browser() -> requests.Session:
        session = requests.Session()
        session.hooks["response"].append(record)
        return session

    def on_the_other_node(node: str, session: requests.Session) -> None:
        """Make the next request go to the node that is not ``node`` (one light request when it would not)."""
        if served[-1][2] != node:
            assert session.get(nodes.url + "/healthz", timeout=30).status_code == 200

    site = nodes.url
    certificant = browser()
    # Log in.
    page = certificant.get(site + "/accounts/login/", timeout=30)
    answer = certificant.post(site + "/accounts/login/", timeout=30, data={
        "username": person.email, "password": PASSWORD, "time_zone": "America/New_York",
        "csrfmiddlewaretoken": field(page.text, "csrfmiddlewaretoken")})
    assert (answer.status_code, urlsplit(answer.url).path) == (200, "/")
    assert "View CEC Dashboard" in answer.text

    # Report the 2 CECs still missing.
    dashboard = certificant.get(site + "/dashboard/", timeout=30)
    assert "43 of 45" in dashboard.text
    answer = certificant.post(site + "/cecs/report/", timeout=30, data={
        "date_earned": cycle.start.isoformat(), "units": "2", "credit_type": "cec", "course_name": "Two-node course",
        "provider": "ACSM", "format": "online", "csrfmiddlewaretoken": field(dashboard.text, "csrfmiddlewaretoken")})
    assert urlsplit(answer.url).path == "/dashboard/" and "45 of 45" in answer.text

    # Upload a CPR card on one node, submit it.
    maintenance = f"{site}/certifications/{certification.pk}/maintenance/"
    page = certificant.get(maintenance, timeout=30)
    csrf = field(page.text, "csrfmiddlewaretoken")
    card = png_bytes()
    answer = certificant.post(f"{site}/certifications/{certification.pk}/cpr-files/", timeout=30,
                              headers={"X-CSRFToken": csrf, "Accept": "application/json"},
                              data={"csrfmiddlewaretoken": csrf}, files={"file": ("cpr-card.png", card, "image/png")})
    assert answer.status_code == 201, answer.text
    upload_node = served[-1][2]
    card_url = answer.json()["file"]["url"]
    answer = certificant.post(maintenance, timeout=30, data={
        "action": "submit", "card_type": "cpr_aed", "issuing_organization": "American Red Cross",
        "expires_on": cycle.end.replace(year=cycle.end.year + 2).isoformat(), "skills_check_confirmed": "on",
        "csrfmiddlewaretoken": csrf})
    assert urlsplit(answer.url).path == "/dashboard/" and "RENEW" in answer.text
    upload = CprUpload.objects.get(certification=certification)
    assert upload.state == CprUpload.State.PENDING
    stored_card = CprUploadFile.objects.get(upload=upload)

    # A reviewer approves it in the admin, on the other node.
    reviewer_browser = browser()
    page = reviewer_browser.get(site + "/staff/login/", timeout=30)
    answer = reviewer_browser.post(site + "/staff/login/?next=/staff/", timeout=30, data={
        "username": staff.email, "password": PASSWORD, "next": "/staff/",
        "csrfmiddlewaretoken": field(page.text, "csrfmiddlewaretoken")})
    assert (answer.status_code, urlsplit(answer.url).path) == (200, "/staff/")
    on_the_other_node(upload_node, reviewer_browser)
    answer = reviewer_browser.post(site + reverse("admin:certifications_cprupload_approve", args=[upload.pk]),
                                   timeout=30, data={"csrfmiddlewaretoken": reviewer_browser.cookies["csrftoken"]})
    approve_node = [node for method, path, node in served if path.endswith(f"/{upload.pk}/approve/")][0]
    assert approve_node != upload_node
    assert "Approved 1 CPR card; the certificant is emailed." in answer.text
    upload.refresh_from_db()
    assert upload.state == CprUpload.State.APPROVED
    # The reviewer reads the card through either node, byte for byte what was uploaded.
    assert [reviewer_browser.get(site + card_url, timeout=30).content for _ in range(2)] == [card, card]

    # RENEW, cart, checkout.
    dashboard = certificant.get(site + "/dashboard/", timeout=30)
    answer = certificant.post(f"{site}/cart/renew/{certification.pk}/", timeout=30,
                              data={"csrfmiddlewaretoken": field(dashboard.text, "csrfmiddlewaretoken")})
    assert "In cart" in answer.text
    assert "Proceed to Checkout" in certificant.get(site + "/cart/", timeout=30).text
    page = certificant.get(site + "/checkout/", timeout=30)
    csrf = field(page.text, "csrfmiddlewaretoken")
    json_headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
    start = certificant.post(site + "/checkout/", timeout=30, headers=json_headers, data={
        **BILLING, "expected_total": field(page.text, "expected_total"), "csrfmiddlewaretoken": csrf}).json()

    # Process Payment: the card confirmed at the emulator as its Stripe.js does, then the charge.
    setup_intent = start["client_secret"].split("_secret_")[0]
    confirmed = requests.post(f"{localstripe}/v1/setup_intents/{setup_intent}/confirm", timeout=30, json={
        "key": "pk_test_local", "use_stripe_sdk": True, "client_secret": start["client_secret"],
        "payment_method_data": {"type": "card", "card": {
            "number": "4242424242424242", "exp_month": "12", "exp_year": str(cycle.end.year + 3), "cvc": "123"},
            "billing_details": {"address": {"postal_code": "46202"}}}}).json()
    assert confirmed["status"] == "succeeded"
    charged = certificant.post(site + start["charge_url"], timeout=30, headers=json_headers,
                               data={"payment_method": confirmed["payment_method"]})
    assert charged.status_code == 200 and charged.json()["state"] == "succeeded", charged.text

    # The certificate, rendered by either worker into the bucket.
    certificate = wait_until(
        lambda: Certificate.objects.filter(certification=certification).exclude(pdf="").first(),
        what="a worker to render the certificate")
    order = Order.objects.get(user=person)
    assert order.state == Order.State.PAID
    rendered_by = [name for name, worker in nodes.workers.items()
                   if re.search(r"certificate_render_task\[[^\]]+\] succeeded", worker.output())]
    assert len(rendered_by) == 1, rendered_by

    # Downloaded through each node: the same bytes, a real PDF, the bucket's object.
    dashboard = certificant.get(site + "/dashboard/", timeout=30)
    link = re.search(r'href="(/certificates/[^"]+\.pdf)"', dashboard.text).group(1)
    downloads = [certificant.get(site + link, timeout=30) for _ in range(2)]
    assert [d.status_code for d in downloads] == [200, 200]
    assert {served[-2][2], served[-1][2]} == {"a", "b"}
    assert downloads[0].content == downloads[1].content == s3_documents.read(certificate.pdf.name)
    assert downloads[0].content.startswith(b"%PDF-") and b"%%EOF" in downloads[0].content[-1024:]

    # Every request through nginx went to the other node than the one before it.
    assert len(served) >= 25
    assert all(one[2] != two[2] for one, two in zip(served, served[1:])), served

    # The emails went out through the workers: the card's decision and the receipt.
    mails = WorkerMailbox(nodes.mailbox.maildir).wait_for(2)
    assert sorted((m["To"], m["Subject"]) for m in mails) == sorted([
        (person.email, "Your CPR/AED card for CPT is approved"),
        (person.email, f"Your MyACSM receipt {order.number}"),
    ])

    # Nothing on any machine's disk: the documents are in the bucket only.
    for name, folder in nodes.media.items():
        assert list(folder.iterdir()) == [], name
    assert s3_documents.keys() == sorted([stored_card.file.name, certificate.pdf.name])
    assert s3_documents.read(stored_card.file.name) == card
