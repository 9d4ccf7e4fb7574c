"""Provider services: posting completions (by API, CSV roster or form, all through ``completions_post``) and
retracting them.

A completion names an approved course of the posting provider and a certificant by member ID **and** last name;
it puts one credit (``CECEntry``, source Provider) on that certificant's ledger. One provider's posts are taken one
at a time (its row locked), so a retry racing the original finds it and changes nothing.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.apps import apps
from django.db import transaction

from acsm_portal import clock
from acsm_portal.errors import ServiceError
from cecs.models import CECEntry, CreditType

from . import rules
from .models import Completion, Course, Provider

log = logging.getLogger(__name__)

# No completion may be dated after today where today is latest on earth.
LATEST_ZONE = ZoneInfo("Pacific/Kiritimati")
NO_MATCH = "No certificant matches this member ID and last name."
EXTERNAL_ID_MAX = Completion._meta.get_field("external_id").max_length


class ProviderError(ServiceError):
    pass


class CompletionNotFound(ProviderError):
    def __init__(self, message: str = "No such completion."):
        super().__init__(message)


@dataclass(frozen=True)
class CompletionIn:
    """One completion as a provider posts it, already parsed: ``cecs`` None grants the course's approved CECs."""

    member_id: str
    last_name: str
    course_number: str
    completed_on: date
    external_id: str
    cecs: Decimal | None = None


@dataclass
class ItemResult:
    """What became of one posted item: ``status`` "accepted" (made now), "duplicate" (posted before under this
    external ID: ``completion`` is the first one, unchanged) or "rejected" (``errors``: field → message)."""

    index: int
    external_id: str
    status: str
    completion: Completion | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _check(item: CompletionIn, *, course: Course | None, person, latest: date) -> dict[str, str]:
    errors = {}
    if not item.external_id.strip():
        errors["external_id"] = "An external ID is required."
    elif len(item.external_id.strip()) > EXTERNAL_ID_MAX:
        errors["external_id"] = f"An external ID is at most {EXTERNAL_ID_MAX} characters."
    elif not item.external_id.strip().isprintable():
        errors["external_id"] = "An external ID may not hold line breaks, tabs or other control characters."
    if course is None:
        errors["course_number"] = "Not an approved course of this provider."
    else:
        error = rules.date_error(completed_on=item.completed_on, valid_from=course.valid_from,
                                 valid_to=course.valid_to, latest=latest)
        if error:
            errors["completed_on"] = error
        if item.cecs is not None:
            error = rules.grant_error(cecs=item.cecs, approved=course.cecs)
            if error:
                errors["cecs"] = error
    if person is None:
        errors["member_id"] = NO_MATCH
    return errors


def completions_post(*, provider_id: int, items: list[CompletionIn], via: str, posted_by: str) -> list[ItemResult]:
    """Post ``items`` for provider ``provider_id`` (at most ``rules.BATCH_LIMIT``, or ``rules.CSV_ROW_LIMIT`` for a
    roster): each accepted, duplicate or rejected on its own (``ItemResult``, in the order given), the good ones
    kept whatever the bad ones. ``via`` is a ``Completion.Via`` value, ``posted_by`` who posted (a provider user's
    email, a token's name).

    A constant number of queries whatever the number of items: the provider locked, its courses, the certificants
    named, the external IDs known, then one insert of the credits and one of the completions. Raises
    ``ProviderError`` for an inactive provider or too many items.
    """
    limit = rules.CSV_ROW_LIMIT if via == Completion.Via.CSV else rules.BATCH_LIMIT
    if len(items) > limit:
        raise ProviderError(f"At most {limit:,} completions at a time; this had {len(items):,}.")
    User = get_user_model()
    latest = clock.today(LATEST_ZONE)
    with transaction.atomic():
        provider = Provider.objects.select_for_update().filter(pk=provider_id).first()
        if provider is None or not provider.active:
            raise ProviderError("This provider may not post completions.")
        courses = {c.number: c for c in Course.objects.filter(
            provider=provider, number__in={i.course_number.strip() for i in items})}
        # Certificants only: not staff, nor a provider's own people.
        people = {person.member_id: person for person in User.objects.filter(
            member_id__in={i.member_id.strip() for i in items}, is_active=True, is_staff=False,
            provider_member__isnull=True)}
        known = {c.external_id: c for c in Completion.objects.filter(
            provider=provider, external_id__in={i.external_id.strip() for i in items
                                                if i.external_id.strip().isprintable()}).select_related("course")}
        # The same course completed by the same person on the same day, posted before under another external ID
        # (an LMS that makes a new ID on a retry, a roster exported again): the first one stands.
        done = {(c.user_id, c.course_id, c.completed_on): c for c in Completion.objects.filter(
            provider=provider, state=Completion.State.ACCEPTED, user__in=list(people.values()),
            course__in=list(courses.values())).select_related("course")}
        results, fresh, seen = [], [], {}
        for index, item in enumerate(items):
            external_id = item.external_id.strip()
            if external_id in known:
                results.append(ItemResult(index, external_id, "duplicate", completion=known[external_id]))
                continue
            if external_id and external_id in seen:
                results.append(ItemResult(index, external_id, "rejected", errors={
                    "external_id": f"Repeats the external ID of item {seen[external_id] + 1}."}))
                continue
            course = courses.get(item.course_number.strip())
            person = people.get(item.member_id.strip())
            if person is not None and rules.name_key(person.last_name) != rules.name_key(item.last_name):
                person = None  # the same answer as an unknown member ID: nothing said about who exists
            errors = _check(item, course=course, person=person, latest=latest)
            if errors:
                results.append(ItemResult(index, external_id, "rejected", errors=errors))
                continue
            same = done.get((person.pk, course.pk, item.completed_on))
            if same is not None:
                results.append(ItemResult(index, external_id, "rejected", errors={"external_id": (
                    f"This certificant's completion of {course.number} on {item.completed_on:%-m/%-d/%Y} was posted "
                    f"already, as {same.external_id}.")}))
                continue
            seen[external_id] = index
            result = ItemResult(index, external_id, "accepted")
            results.append(result)
            fresh.append((result, item, course, person))
            done[person.pk, course.pk, item.completed_on] = Completion(external_id=external_id)
        entries = CECEntry.objects.bulk_create([
            CECEntry(user=person, date_earned=item.completed_on, date_reported=clock.today_for(person),
                     units=item.cecs or course.cecs, credit_type=CreditType.CEC, cecs=item.cecs or course.cecs,
                     course_name=course.title, provider=provider.name, format=course.format,
                     source=CECEntry.Source.PROVIDER)
            for _result, item, course, person in fresh
        ])
        now = clock.now()
        completions = Completion.objects.bulk_create([
            Completion(provider=provider, course=course, external_id=result.external_id, user=person,
                       completed_on=item.completed_on, cecs=entry.cecs, cec_entry=entry, via=via,
                       posted_by=posted_by[:200], created_at=now)
            for (result, item, course, person), entry in zip(fresh, entries)
        ])
        for (result, *_rest), completion in zip(fresh, completions):
            result.completion = completion
    log.info("Provider %s posted %d completions via %s (%s): %d accepted, %d duplicate, %d rejected",
             provider.number, len(items), via, posted_by, len(fresh),
             sum(r.status == "duplicate" for r in results), sum(r.status == "rejected" for r in results))
    return results


def _in_an_audit(cec_entry_id: int) -> bool:
    """Whether credit ``cec_entry_id`` is part of an audit that is not canceled: taking it away would leave the
    audit's verdict resting on a credit that is gone. (Looked up by name: the audits app builds on this one.)"""
    AuditCredit = apps.get_model("audits", "AuditCredit")
    return AuditCredit.objects.filter(cec_entry_id=cec_entry_id).exclude(audit__state="canceled").exists()


def completion_retract(*, provider_id: int, external_id: str, reason: str, by: str) -> Completion:
    """Retract provider ``provider_id``'s completion ``external_id`` within ``rules.RETRACT_DAYS`` days of posting:
    its credit leaves the certificant's ledger and totals; the completion stays, retracted, with ``reason`` (the
    certificant's dashboard says so). A second retraction returns it unchanged.

    Raises ``CompletionNotFound`` for an unknown ID or another provider's (the same answer), ``ProviderError`` for a
    missing reason or one posted too long ago."""
    reason = " ".join((reason or "").split())
    with transaction.atomic():
        completion = (Completion.objects.select_for_update(of=("self",)).select_related("cec_entry")
                      .filter(provider_id=provider_id, external_id=(external_id or "").strip()).first())
        if completion is None:
            raise CompletionNotFound()
        if completion.state == Completion.State.RETRACTED:
            return completion
        if not reason:
            raise ProviderError("Give the reason for the retraction.", field="reason")
        if completion.cec_entry_id is not None and _in_an_audit(completion.cec_entry_id):
            raise ProviderError("This credit is part of an audit of the certificant's renewal, so it cannot be "
                                "retracted here. Contact the certification department.")
        if len(reason) > 500:
            raise ProviderError("The reason is at most 500 characters.", field="reason")
        now = clock.now()
        if now - completion.created_at > timedelta(days=rules.RETRACT_DAYS):
            raise ProviderError(f"A completion can be retracted within {rules.RETRACT_DAYS} days of posting; this "
                                f"one was posted on {completion.created_at:%-m/%-d/%Y}. Contact the certification "
                                f"department.")
        entry = completion.cec_entry
        completion.state, completion.retracted_at = Completion.State.RETRACTED, now
        completion.retracted_by, completion.retraction_reason = by[:200], reason
        completion.cec_entry = None
        completion.save(update_fields=["state", "retracted_at", "retracted_by", "retraction_reason", "cec_entry"])
        if entry is not None:
            entry.delete()
    log.info("Provider %s retracted completion %s (%s): %s", provider_id, external_id, by, reason)
    return completion
