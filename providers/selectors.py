"""Reads for the provider area's pages: whose provider a person works for, its courses, its completions."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from . import rules
from .models import Completion, Course, ProviderMember

COMPLETIONS_PER_PAGE = 50


def membership_for(*, user) -> ProviderMember | None:
    """The ``ProviderMember`` (with its provider, one query) of the logged-in ``user``, None for anyone else."""
    if not user.is_authenticated:
        return None
    return ProviderMember.objects.select_related("provider").filter(user_id=user.pk).first()


def provider_id_for(*, user_id: int) -> int | None:
    """The id of the provider person ``user_id`` works for, or None (one query, no row loaded)."""
    return ProviderMember.objects.filter(user_id=user_id).values_list("provider_id", flat=True).first()


def courses_of(*, provider_id: int) -> QuerySet[Course]:
    """Every approved course of the provider, by course number."""
    return Course.objects.filter(provider_id=provider_id).order_by("number")


def courses_postable(*, provider_id: int, today: date) -> QuerySet[Course]:
    """The courses a completion may be posted for on ``today``: those whose approval has begun (a course whose
    approval has ended still takes completions dated inside it), by course number."""
    return courses_of(provider_id=provider_id).filter(valid_from__lte=today)


@dataclass(frozen=True)
class CompletionFilters:
    """What the completions list is narrowed to: completion dates ``completed_from``–``completed_to`` (inclusive),
    one course, one state; None for no limit."""

    completed_from: date | None = None
    completed_to: date | None = None
    course_id: int | None = None
    state: str | None = None


def completions_page(*, provider_id: int, filters: CompletionFilters, page: str | int | None) -> Page:
    """One page (``COMPLETIONS_PER_PAGE`` rows, newest posted first) of the provider's completions narrowed by
    ``filters``, each with its course and certificant (member ID and name only): two queries, the count and the
    page, whatever the page holds. A page number out of range or not a number gives the last or first page."""
    rows = (Completion.objects.filter(provider_id=provider_id)
            .select_related("course", "user")
            .only("external_id", "completed_on", "cecs", "state", "via", "created_at", "retracted_at",
                  "retraction_reason", "provider_id", "course__number", "course__title",
                  "user__member_id", "user__first_name", "user__last_name"))
    if filters.completed_from:
        rows = rows.filter(completed_on__gte=filters.completed_from)
    if filters.completed_to:
        rows = rows.filter(completed_on__lte=filters.completed_to)
    if filters.course_id:
        rows = rows.filter(course_id=filters.course_id)
    if filters.state:
        rows = rows.filter(state=filters.state)
    return Paginator(rows.order_by("-created_at", "-id"), COMPLETIONS_PER_PAGE).get_page(page)


def completion_of(*, provider_id: int, pk: int) -> Completion | None:
    """The provider's completion ``pk`` with its course and certificant, or None (another provider's too)."""
    return (Completion.objects.select_related("course", "user")
            .filter(provider_id=provider_id, pk=pk).first())


def retractable_since(now: datetime) -> datetime:
    """The earliest posting time still retractable at ``now``: ``completion_retract`` takes a completion posted
    at most ``rules.RETRACT_DAYS`` days before."""
    return now - timedelta(days=rules.RETRACT_DAYS)
