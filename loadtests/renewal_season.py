"""Renewal season: simulated certificants renew through the portal as a browser would, one after another.

Run it through ``loadtests/run_season.py`` (``make loadtest``), which seeds the database, starts the portal and
its services and sets the environment below. Each simulated certificant (a fresh one from the seeded season
pool for every renewal) does, with a pause of ``SEASON_THINK`` seconds between pages:

log in (login page, POST, MyACSM) · CEC Dashboard · report the 2 CECs still missing (the dashboard's form, back
to the dashboard) · Certification Maintenance · upload a CPR card photo (a PNG, as the page's script sends it)
and submit it with its details (back to the dashboard, now with RENEW) · RENEW (back to the dashboard) · cart ·
checkout · Process Payment: the checkout form as JSON (a SetupIntent's client secret), the card confirmed at the
Stripe emulator as its Stripe.js does it, the charge (JSON) · then at once the dashboard, for the new
certificate's link, and the certificate's download until it answers 200 · the receipt.

Besides the requests, two measurements are reported as request type ``METRIC``: ``payment → certificate
downloadable`` (from sending the charge to the first 200 of the certificate download, in ms) and ``renewal
complete`` (one per finished renewal; its time is the whole flow's, pauses included).

Environment (all set by the runner): ``SEASON_FIRST``/``SEASON_LAST`` the season certificants' numbers to use,
``SEASON_EMAIL`` their address pattern, ``SEASON_PASSWORD``, ``SEASON_STRIPE`` the emulator's base URL,
``SEASON_STRIPE_KEY`` the publishable key, ``SEASON_THINK`` "min,max" seconds, ``SEASON_EVENTS`` a file to
which every request and measurement is written as a JSON line when the run ends.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import time

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

FIRST = int(os.environ.get("SEASON_FIRST", "1"))
LAST = int(os.environ.get("SEASON_LAST", "0"))
EMAIL = os.environ.get("SEASON_EMAIL", "season{:06d}@season.example.org")
PASSWORD = os.environ.get("SEASON_PASSWORD", "")
STRIPE = os.environ.get("SEASON_STRIPE", "")
STRIPE_KEY = os.environ.get("SEASON_STRIPE_KEY", "pk_test_local")
THINK = tuple(float(x) for x in os.environ.get("SEASON_THINK", "0.5,1.5").split(","))
EVENTS = os.environ.get("SEASON_EVENTS", "")

DOWNLOADABLE = "payment → certificate downloadable"
COMPLETE = "renewal complete"
BILLING = {"name": "Season Certificant", "line1": "401 W Michigan St", "line2": "", "city": "Indianapolis",
           "state": "IN", "postal_code": "46202", "country": "US", "save_to_profile": "on"}
CARD = {"number": "4242424242424242", "exp_month": "12", "cvc": "123"}

certificants = itertools.count(FIRST)
recorded: list[dict] = []


def card_photo() -> bytes:
    """A small real PNG: a wallet card's outline and a few lines of "text"."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 400), "white")
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 8, 632, 392), radius=24, outline=(200, 30, 40), width=6)
    for n, width in enumerate((420, 300, 360, 240)):
        draw.rectangle((40, 60 + 70 * n, 40 + width, 84 + 70 * n), fill=(60, 60, 60))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


PHOTO = card_photo()


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception=None, start_time=None, response=None,
           **kwargs):
    recorded.append({"type": request_type, "name": name, "ms": round(response_time, 2),
                     "start": start_time or time.time(), "ok": exception is None,
                     "status": getattr(response, "status_code", None),
                     "error": None if exception is None else str(exception)[:300]})


@events.quitting.add_listener
def write_events(environment, **kwargs):
    if EVENTS:
        with open(EVENTS, "w", encoding="utf-8") as out:
            for row in recorded:
                out.write(json.dumps(row) + "\n")


class FlowFailed(Exception):
    """A page did not answer as a browser would expect; the certificant stops (the request is already a failure)."""


def field(html: str, name: str) -> str:
    found = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    return found.group(1) if found else ""


class Certificant(FastHttpUser):
    """One browser, used by a new season certificant for each renewal."""

    wait_time = constant(0)  # pauses are inside the flow, between pages

    def think(self):
        gevent.sleep(random.uniform(*THINK))

    def page(self, method: str, url: str, name: str, *, status: int = 200, expect: str = "",
             location: str = "", **kwargs):
        """One request, a failure unless it answers ``status`` (with ``expect`` in the body, or a redirect to a
        URL containing ``location``); raises ``FlowFailed`` after recording the failure."""
        with self.client.request(method, url, name=name, catch_response=True, allow_redirects=False,
                                 **kwargs) as response:
            body = response.text or ""
            problem = ""
            if response.status_code != status:
                problem = f"answered {response.status_code}, expected {status}: {body[:200]!r}"
            elif expect and expect not in body:
                problem = f"no {expect!r} in the page"
            elif location and location not in (response.headers.get("Location") or ""):
                problem = f"redirected to {response.headers.get('Location')!r}, expected {location!r}"
            if problem:
                response.failure(problem)
                raise FlowFailed(f"{name}: {problem}")
            response.success()
            return response

    def measure(self, name: str, ms: float, ok: bool = True, error: str = ""):
        self.environment.events.request.fire(request_type="METRIC", name=name, response_time=ms, response_length=0,
                                             exception=None if ok else FlowFailed(error), context={})

    @task
    def renew(self):
        number = next(certificants)
        if LAST and number > LAST:
            raise StopUser()  # the season pool is used up; the runner seeds more next time
        self.client.cookiejar.clear()
        started = time.perf_counter()
        try:
            self.flow(EMAIL.format(number))
        except FlowFailed:  # recorded as the failed request
            self.think()
            return
        except Exception as exc:  # a page without what the flow reads from it: recorded, or it would go unseen
            self.measure("flow error", 0, ok=False, error=f"{type(exc).__name__}: {exc}")
            self.think()
            return
        self.measure(COMPLETE, 1000 * (time.perf_counter() - started))

    def flow(self, email: str):
        html = self.page("GET", "/accounts/login/", "login page", expect="csrfmiddlewaretoken").text
        self.think()
        self.page("POST", "/accounts/login/", "log in", status=302, data={
            "username": email, "password": PASSWORD, "time_zone": "America/New_York",
            "csrfmiddlewaretoken": field(html, "csrfmiddlewaretoken")})
        self.page("GET", "/", "MyACSM", expect="View CEC Dashboard")
        self.think()

        html = self.page("GET", "/dashboard/", "dashboard", expect="43 of 45").text
        certification = re.search(r'id="tile-(\d+)"', html).group(1)
        # The cycle as the tile shows it ("1/1/Y - 12/31/Y"): the credit was earned on its first day (in the past),
        # and the card expires after its last.
        month, day, year, end_year = re.search(r'class="tile-cycle">(\d+)/(\d+)/(\d{4}) - \d+/\d+/(\d{4})<',
                                               html).groups()
        self.think()
        self.page("POST", "/cecs/report/", "report CECs", status=302, location="/dashboard/", data={
            "date_earned": f"{year}-{int(month):02d}-{int(day):02d}", "units": "2", "credit_type": "cec",
            "course_name": "Season load course", "provider": "ACSM", "format": "online",
            "csrfmiddlewaretoken": field(html, "csrfmiddlewaretoken")})
        self.page("GET", "/dashboard/", "dashboard", expect="45 of 45")
        self.think()

        maintenance = f"/certifications/{certification}/maintenance/"
        html = self.page("GET", maintenance, "certification maintenance", expect="cpr-form").text
        csrf = field(html, "csrfmiddlewaretoken")
        self.think()
        self.page("POST", f"/certifications/{certification}/cpr-files/", "upload CPR file", status=201,
                  headers={"X-CSRFToken": csrf, "Accept": "application/json"},
                  data={"csrfmiddlewaretoken": csrf}, files={"file": ("cpr-card.png", PHOTO, "image/png")})
        self.think()
        self.page("POST", maintenance, "submit CPR card", status=302, location="/dashboard/", data={
            "action": "submit", "card_type": "cpr_aed", "issuing_organization": "American Red Cross",
            "expires_on": f"{int(end_year) + 2}-06-30", "skills_check_confirmed": "on",
            "csrfmiddlewaretoken": csrf})
        html = self.page("GET", "/dashboard/", "dashboard", expect="RENEW").text
        self.think()

        self.page("POST", f"/cart/renew/{certification}/", "RENEW", status=302, location="/dashboard/",
                  data={"csrfmiddlewaretoken": field(html, "csrfmiddlewaretoken")})
        self.page("GET", "/dashboard/", "dashboard", expect="In cart")
        self.think()
        self.page("GET", "/cart/", "cart", expect="Proceed to Checkout")
        self.think()
        html = self.page("GET", "/checkout/", "checkout", expect="expected_total").text
        self.think()

        # Process Payment: what static/js/checkout.js does with the emulator's Stripe.js.
        csrf = field(html, "csrfmiddlewaretoken")
        json_headers = {"X-CSRFToken": csrf, "Accept": "application/json"}
        start = self.page("POST", "/checkout/", "checkout: place order (JSON)", headers=json_headers,
                          data={**BILLING, "expected_total": field(html, "expected_total"),
                                "csrfmiddlewaretoken": csrf}).json()
        secret = start["client_secret"]
        setup_intent = secret.split("_secret_")[0]
        card = {**CARD, "exp_year": str(int(end_year) + 3)}
        confirmed = self.page(
            "POST", f"{STRIPE}/v1/setup_intents/{setup_intent}/confirm", "stripe.js: confirm SetupIntent",
            data=json.dumps({"key": STRIPE_KEY, "use_stripe_sdk": True, "client_secret": secret,
                             "payment_method_data": {"type": "card", "card": card,
                                                     "billing_details": {"address": {"postal_code": "46202"}}}}),
            expect='"succeeded"').json()
        paid_from = time.perf_counter()
        charged = self.page("POST", start["charge_url"], "Process Payment (charge)", headers=json_headers,
                            data={"payment_method": confirmed["payment_method"]}, expect='"succeeded"').json()

        html = self.page("GET", "/dashboard/", "dashboard", expect="Download your certificate").text
        link = re.search(r'href="(/certificates/[^"]+\.pdf)"', html).group(1)
        for attempt in itertools.count(1):
            with self.client.get(link, name="certificate download", catch_response=True) as response:
                if response.status_code == 200 and response.content.startswith(b"%PDF"):
                    response.success()
                    break
                response.failure(f"attempt {attempt}: {response.status_code}")
            if attempt == 20:
                self.measure(DOWNLOADABLE, 1000 * (time.perf_counter() - paid_from), ok=False, error="never 200")
                raise FlowFailed("the certificate never downloaded")
            gevent.sleep(0.1)
        self.measure(DOWNLOADABLE, 1000 * (time.perf_counter() - paid_from))
        self.think()
        self.page("GET", charged["receipt_url"], "receipt", expect="Print")
