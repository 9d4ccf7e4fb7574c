"""Reads for the public status pages: a certificate as anyone verifying it sees it, the search by certificate number
and last name, and Find a certified professional. Each returns only what those pages may show: never an email,
an address line, a member ID or a reason staff gave."""

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import CharField, Exists, F, Func, OuterRef, Q

from accounts.models import BillingAddress, User
from acsm_portal import clock
from certifications import rules
from certifications.certificate_status import DATED, certificate_dated_status, with_replaced
from certifications.models import Certificate, Certification, Cycle
from providers.rules import name_key

Status = Certificate.Status

# How each status looks: a Bootstrap colour (green, amber, grey, red), a sign beside the words, and what it means.
TONES = {
    Status.ACTIVE: ("success", "✓", "This certificate is current."),
    Status.GRACE: ("warning", "!", "Its valid-through date has passed; the holder's grace period to renew is running."),
    Status.LAPSED: ("secondary", "–", "This certificate has lapsed and is no longer current."),
    Status.RENEWED: ("secondary", "–", "A newer certificate has replaced this one."),
    Status.SUSPENDED: ("danger", "✕", "This certificate is suspended: it is not valid while it is."),
    Status.REVOKED: ("danger", "✕", "This certificate has been revoked: it is not valid."),
}

FIND_LIMIT = 25


@dataclass(frozen=True)
class PublicStatus:
    """A status as a public page shows it: ``value`` ("active"), ``label`` ("Active"), ``tone`` (the Bootstrap
    colour: success, warning, secondary, danger), ``sign`` (✓ ! – ✕, beside the words, never alone) and ``meaning``
    (one sentence)."""

    value: str
    label: str
    tone: str
    sign: str
    meaning: str


def public_status(status: str) -> PublicStatus:
    """``status`` (a ``Certificate.Status`` value) as the public pages show it."""
    tone, sign, meaning = TONES[Status(status)]
    return PublicStatus(value=str(status), label=Status(status).label, tone=tone, sign=sign, meaning=meaning)


@dataclass(frozen=True)
class PublicCertificate:
    """What the verify page shows of a certificate, and nothing else."""

    holder_name: str
    certification_name: str
    number: str
    issued_on: date
    valid_through: date
    status: PublicStatus


def live_status(certificate: Certificate, *, today: date | None = None) -> str:
    """``certificate``'s status at this moment: a status by the dates as the dates give it on its holder's date now
    (the hourly ``certificates_status_refresh`` stores it within the hour after the holder's midnight; until then the
    page is already right), any other as stored; a void certificate not yet marked is Revoked."""
    if certificate.is_void:
        return Status.REVOKED
    if certificate.status in DATED:
        return certificate_dated_status(certificate, today=today)
    return certificate.status


def certificate_public(*, code: str) -> PublicCertificate | None:
    """The certificate whose verify code is ``code`` as the public verify page shows it, its status live (two
    queries); None when no certificate has that code."""
    certificate = (with_replaced(Certificate.objects.filter(verify_code=code))
                   .select_related("certification__user").first())
    if certificate is None:
        return None
    return PublicCertificate(
        holder_name=certificate.holder_name, certification_name=certificate.certification_name,
        number=certificate.number, issued_on=certificate.issued_on, valid_through=certificate.valid_through,
        status=public_status(live_status(certificate)),
    )


def certificate_code_for(*, number: str, last_name: str) -> str | None:
    """The verify code of certificate ``number`` when ``last_name`` is its holder's, compared as
    ``providers.rules.name_key`` compares names (accents, case and spaces aside): their last name now, or the last
    name on the certificate (its holder name is their first name and that last name). None for an unknown number
    and for a name that does not match alike, so the answer tells nothing about which."""
    key = name_key(last_name)
    found = (Certificate.objects.filter(number=number.strip().upper())
             .values_list("verify_code", "holder_name", "certification__user__first_name",
                          "certification__user__last_name").first())
    if not key or found is None:
        return None
    code, holder_name, first_name, current_last_name = found
    if key == name_key(current_last_name) or name_key(holder_name) == name_key(first_name) + key:
        return code
    return None


# ---------------------------------------------------------------- Find a certified professional

# US states and territories by postal code, so that "IN" and "Indiana" find each other whichever was typed and
# whichever the person's billing address holds.
US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky",
    "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
    "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AS": "American Samoa", "GU": "Guam", "MP": "Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}
_STATE_CODES = {name.casefold(): code for code, name in US_STATES.items()}


def state_names(state: str) -> set[str]:
    """The ways a billing address may hold the state typed as ``state``: itself, and for a US state its postal code
    and its name ("in" -> {"IN", "Indiana"}); compared without regard to case."""
    state = " ".join(state.split())
    code = state.upper() if state.upper() in US_STATES else _STATE_CODES.get(state.casefold())
    return {state, code, US_STATES[code]} if code else {state}


@dataclass(frozen=True)
class FoundCertification:
    name: str
    status: PublicStatus


@dataclass(frozen=True)
class FoundPerson:
    """One person the search found: their name, city and state (from their billing address; either may be blank)
    and each certification with its status."""

    name: str
    city: str
    state: str
    certifications: tuple[FoundCertification, ...]

    @property
    def place(self) -> str:
        return ", ".join(part for part in (self.city, self.state) if part)


@dataclass(frozen=True)
class FindResult:
    people: tuple[FoundPerson, ...]
    more: bool  # more people matched than the page shows (``FIND_LIMIT``)


class NameKey(Func):
    """``accounts_name_key(expression)``: the SQL twin of ``name_key`` (PostgreSQL; accounts migration 0006)."""

    function = "accounts_name_key"
    output_field = CharField()


def _listed_with_last_name(last_name: str):
    """People listed in Find a certified professional, able to log in, holding a certification, whose last name is
    ``last_name`` by ``name_key``: through the index of those keys on PostgreSQL, compared one by one in Python
    elsewhere (SQLite in development)."""
    key = name_key(last_name)
    listed = User.objects.filter(listed_in_find_a_pro=True, is_active=True).filter(
        Exists(Certification.objects.filter(user_id=OuterRef("pk"))))
    if connection.vendor == "postgresql":
        return listed.annotate(name_key=NameKey(F("last_name"))).filter(name_key=key)
    return listed.filter(pk__in=[pk for pk, name in listed.values_list("pk", "last_name").iterator()
                                 if name_key(name) == key])


def find_people(*, last_name: str, state: str = "", limit: int = FIND_LIMIT) -> FindResult:
    """The people listed in Find a certified professional whose last name is exactly ``last_name`` (compared as
    ``name_key``: accents, case and spaces aside; never a prefix or a part) and, when ``state`` is given, whose
    billing address is in that state; at most ``limit``, by first name. Each comes with their certifications and
    each one's live status: its newest certificate's, or for a certification without one, what its open cycle and
    any suspension give. Nobody who did not opt in is ever among them. Four queries."""
    if not name_key(last_name):
        return FindResult(people=(), more=False)
    people = _listed_with_last_name(last_name)
    if state.strip():
        wanted = Q()
        for name in state_names(state):
            wanted |= Q(billing_address__state__iexact=name)
        people = people.filter(wanted)
    found = list(people.select_related("billing_address").order_by("first_name", "last_name", "pk")[:limit + 1])
    found = [person for person in found if name_key(person.last_name) == name_key(last_name)]
    more, found = len(found) > limit, found[:limit]
    by_person = _certifications_of(found)
    return FindResult(more=more, people=tuple(
        FoundPerson(name=person.get_full_name(), city=_address(person).city, state=_address(person).state,
                    certifications=by_person.get(person.pk, ()))
        for person in found))


def _address(person: User) -> BillingAddress:
    try:
        return person.billing_address
    except BillingAddress.DoesNotExist:
        return BillingAddress(city="", state="")


def _certifications_of(people: list[User]) -> dict[int, tuple[FoundCertification, ...]]:
    """Each person's certifications (in the types' order) with their live status, in three queries."""
    if not people:
        return {}
    by_id = {person.pk: person for person in people}
    certifications = list(Certification.objects.filter(user_id__in=by_id).select_related("certification_type"))
    newest: dict[int, Certificate] = {}
    for certificate in with_replaced(Certificate.objects.filter(
            certification__in=certifications, voided_at__isnull=True)).order_by("valid_through", "issued_on", "id"):
        newest[certificate.certification_id] = certificate
    open_cycles = {cycle.certification_id: cycle for cycle in Cycle.objects.filter(
        certification__in=certifications, state=Cycle.State.OPEN)}
    found: dict[int, list[FoundCertification]] = {}
    for certification in certifications:
        person = by_id[certification.user_id]
        today = clock.today_for(person)
        certificate = newest.get(certification.pk)
        if certificate is not None:
            certificate.certification = certification
            certification.user = person
            status = live_status(certificate, today=today)
        else:
            status = _status_without_certificate(certification, open_cycles.get(certification.pk), today)
        if status is not None:
            found.setdefault(person.pk, []).append(
                FoundCertification(name=certification.certification_type.name, status=public_status(status)))
    return {pk: tuple(items) for pk, items in found.items()}


def _status_without_certificate(certification: Certification, cycle: Cycle | None, today: date) -> str | None:
    """The status of a certification the portal has issued no certificate for yet (certified before it): Suspended
    while it is; else by its open cycle on the holder's date (in its cycle or renewed early: Active; then the grace
    period; then Lapsed). None without an open cycle."""
    if certification.is_suspended:
        return Status.SUSPENDED
    if cycle is None:
        return None
    return {
        rules.Status.IN_PROCESS: Status.ACTIVE, rules.Status.RENEWED: Status.ACTIVE,
        rules.Status.GRACE: Status.GRACE, rules.Status.LAPSED: Status.LAPSED,
    }[rules.cycle_status(start=cycle.start, end=cycle.end, today=today)]
