"""The how-to, start to finish, in Chromium: log in, upload CPR cards, RENEW, pay, print, download."""

import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from acsm_portal.demo import DEMO_CERTIFICANT, DEMO_WEST, demo_seed
from acsm_portal import clock
from audits.models import AuditEmail
from certifications.models import Certificate, CprUpload
from payments.models import Order
from tests.certifications.cpr_helpers import png_of_size
from tests.e2e.helpers import SHOTS, casey_today, log_in_demo, pay
from tests.payments.helpers import CARD_3DS, CARD_DECLINED, CARD_OK
from tests.waits import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("localstripe")]

CASEY = DEMO_CERTIFICANT["email"]


def upload_cpr(page: Page, tile, tmp_path: Path) -> None:
    tile.get_by_role("link", name="Upload CPR Certificate").click()
    expect(page.get_by_role("heading", name="Certification Maintenance")).to_be_visible()
    page.wait_for_load_state("load")  # the page's script listens for chosen files from then on
    card = tmp_path / "cpr-card.png"
    card.write_bytes(png_of_size(15_565))
    page.get_by_label("Choose File").set_input_files([card])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#cpr-file-list li .cpr-file-progress").first).to_have_text("100% 15.2 KB of 15.2 KB")
    page.get_by_label("Card type").select_option(label="CPR/AED")
    page.get_by_label("Issuing organization").fill("American Heart Association")
    page.get_by_label("Expiry date").fill((clock.today() + timedelta(days=700)).isoformat())
    page.get_by_label("The course included a hands-on skills check").check()
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("heading", name="CEC Dashboard")).to_be_visible()


def demo_emails_sent() -> bool:
    """Whether the worker has sent every email the demo's own steps called for."""
    return not (Order.objects.filter(state=Order.State.PAID, receipt_emailed_at__isnull=True).exists()
                or CprUpload.objects.filter(state__in=["approved", "rejected"],
                                            decision_emailed_at__isnull=True).exists()
                or AuditEmail.objects.filter(emailed_at__isnull=True).exists())


def to_checkout(page: Page, base: str, tmp_path: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    log_in_demo(page, base)
    page.get_by_role("link", name="View CEC Dashboard and Report CECs").click()
    for name in ("Certified Personal Trainer", "Certified Exercise Physiologist"):
        tile = page.get_by_role("region", name=name)
        expect(tile.get_by_role("button", name="RENEW")).to_have_count(0)
        upload_cpr(page, tile, tmp_path)
        expect(tile.locator(".tile-cpr")).to_contain_text("Submitted – pending review")
        tile.get_by_role("button", name="RENEW").click()
        expect(tile.get_by_text("In cart")).to_be_visible()
    page.get_by_role("link", name="Complete Recertification").click()
    expect(page.locator(".cart-total")).to_have_text("$130.00")
    page.screenshot(path=str(SHOTS / f"flow-cart-{width}.png"), full_page=True)
    page.get_by_role("link", name="Proceed to Checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.locator("#id_line1")).to_have_value("401 W Michigan St")
    expect(page.locator(".order-total")).to_have_text("$130.00")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 375])
def test_the_whole_seed_flow(live_server, page: Page, celery_worker, tmp_path, width):
    celery_worker.clear()
    demo_seed()
    # The demo goes through the services, so the worker emails its other certificants first (a card approved, a
    # receipt, an audit's selection): once every such email is out, the mailbox is Casey's alone.
    wait_until(demo_emails_sent, what="the worker to send the demo's emails")
    assert (DEMO_WEST["email"], "Your CPR/AED card for CPT is approved") in {
        (m["To"], m["Subject"]) for m in celery_worker.messages()}
    celery_worker.clear()
    SHOTS.mkdir(parents=True, exist_ok=True)
    to_checkout(page, live_server.url, tmp_path, width)
    page.get_by_label("City").fill("Carmel")  # billing address is editable
    page.screenshot(path=str(SHOTS / f"flow-checkout-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # A declined card keeps the cart and says why; the good card then pays.
    pay(page, CARD_DECLINED)
    expect(page.locator("#checkout-error")).to_have_text("Your card was declined.")
    expect(page.get_by_label("City")).to_have_value("Carmel")
    pay(page, CARD_OK)
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    paid_seen = time.monotonic()

    order = Order.objects.get(state=Order.State.PAID, user__email=CASEY)
    receipt = page.locator(".receipt")
    expect(receipt).to_contain_text(order.number)
    expect(receipt).to_contain_text("CPT Recertification")
    expect(receipt).to_contain_text("EP Recertification")
    expect(receipt.locator(".order-total")).to_have_text("$130.00")
    expect(receipt).to_contain_text("Visa ending in 4242")
    expect(receipt).to_contain_text("Carmel, IN 46202")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"flow-receipt-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # The worker emails the receipt with its PDF and renders both certificates.
    [message] = celery_worker.wait_for(1)
    assert message["To"] == DEMO_CERTIFICANT["email"]
    assert message["Subject"] == f"Your MyACSM receipt {order.number}"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "Total: $130.00" in parts["text/plain"].get_payload(decode=True).decode()
    assert order.number in parts["text/html"].get_payload(decode=True).decode()
    assert parts["application/pdf"].get_filename() == f"receipt-{order.number}.pdf"
    assert parts["application/pdf"].get_payload(decode=True).startswith(b"%PDF-")
    wait_until(lambda: not Certificate.objects.filter(rendered_at__isnull=True,
                                                      certification__user__email=CASEY).exists(),
               what="the worker to render both certificates")
    rendered_after = time.monotonic() - paid_seen
    assert Certificate.objects.filter(rendered_at__isnull=False, certification__user__email=CASEY).count() == 2
    print(f"\ncertificates rendered by the worker {rendered_after:.2f}s after the receipt showed")

    page.get_by_role("link", name="Back to CEC Dashboard").click()
    cpt = page.get_by_role("region", name="Certified Personal Trainer")
    year = casey_today().year  # renewed: the cycle after the demo's (1/1 two years back to 12/31 this year)
    expect(cpt.locator(".tile-cycle")).to_have_text(f"1/1/{year + 1} - 12/31/{year + 3}")
    expect(cpt.locator(".tile-status")).to_have_text("Recertified")
    expect(cpt.locator(".tile-cpr")).to_have_text("CPR Certificate Not Uploaded")
    with page.expect_download() as download_info:
        cpt.get_by_role("link", name="Download your certificate").click()
    download = download_info.value
    certificate = Certificate.objects.get(certification__certification_type__code="CPT",
                                          certification__user__email=CASEY)
    assert download.suggested_filename == f"certificate-{certificate.number}.pdf"
    path = tmp_path / "certificate.pdf"
    download.save_as(path)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(path), str(SHOTS / f"flow-certificate-{width}")],
                   check=True)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Casey Morgan" in text and "Certified Personal Trainer" in text and certificate.number in text
    page.screenshot(path=str(SHOTS / f"flow-dashboard-after-{width}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_three_d_secure_in_the_page(live_server, page: Page, tmp_path):
    demo_seed()
    to_checkout(page, live_server.url, tmp_path, 1280)
    pay(page, CARD_3DS)
    # The emulator asks once when the card is set up and once for the payment itself; each click waits for its
    # dialog (the first one is gone as soon as it is answered).
    authenticate = page.get_by_role("button", name="Complete authentication")
    authenticate.click()
    authenticate.click()
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    order = Order.objects.get(user__email=CASEY)
    assert order.state == Order.State.PAID
    assert list(order.payments.values_list("state", flat=True)) == ["succeeded"]
