"""The CEC Dashboard page, rendered once and kept per person in the shared cache.

A person reloads their dashboard far more often than their credits change. The
rendered page (with placeholders for the CSRF token and the messages, which each
response fills in) is stored with what it was rendered under:

- the person's token, dropped whenever one of their credits, certifications,
  cycles, CPR cards, certificates or cart lines is saved or deleted, from the
  site, the admin or the worker;
- the reference token, dropped when a certification type or a yearly cap changes;
- the date and the person's time zone, because statuses, the grace period, card expiry and the deadlines
  the page states depend on them;
- the name, member ID and staff flag the page header shows.

A stored page is served only while all of these still match; otherwise the page is
rendered again. The tokens are read before the database, and dropped both at
once and again after the change commits, so a page rendered from data older
than its tokens is never served. Losing any key (eviction, restart) only costs
a render. pretix keeps its event caches the same way (a prefix that changes).
"""

from collections.abc import Callable
from datetime import date

from django.contrib.messages import get_messages
from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from acsm_portal.cache_tokens import token_new, tokens_drop

PERSON_KEY = "dashboard:person:{}"
PAGE_KEY = "dashboard:page:{}"
REFERENCE_KEY = "dashboard:reference"
PAGE_SECONDS = 30 * 60
# Rendered in place of the CSRF token and of the messages; each response fills them in for itself.
CSRF_PLACEHOLDER = "csrf0placeholder0f0r0the0cached0dashboard0page0kept0per0person0"
MESSAGES_PLACEHOLDER = "messages0placeholder0f0r0the0cached0dashboard0page0"


def dashboard_page(request, *, today: date, render: Callable[[dict], str]) -> str:
    """The dashboard page of ``request.user`` for ``today``: the stored page if it is current, else
    ``render(context)`` stored for the next request. ``context`` fills the page's two holes with placeholders:
    the CSRF token and the messages, which each response then gets its own of."""
    user = request.user
    person_key, page_key = PERSON_KEY.format(user.pk), PAGE_KEY.format(user.pk)
    found = cache.get_many([person_key, REFERENCE_KEY, page_key])
    stamp = (
        found.get(person_key) or token_new(person_key),
        found.get(REFERENCE_KEY) or token_new(REFERENCE_KEY),
        today.isoformat(),
        user.get_full_name(), user.member_id, user.is_staff, user.time_zone,
    )
    stored = found.get(page_key)
    if stored is not None and stored[0] == stamp:
        html = stored[1]
    else:
        html = render({"csrf_token": CSRF_PLACEHOLDER, "messages_html": MESSAGES_PLACEHOLDER})
        cache.set(page_key, (stamp, html), PAGE_SECONDS)
    messages = get_messages(request)
    notices = render_to_string("_messages.html", {"messages": messages}) if len(messages) else ""
    return html.replace(CSRF_PLACEHOLDER, get_token(request)).replace(MESSAGES_PLACEHOLDER, notices)


def person_changed(*user_ids: int) -> None:
    """Forget the dashboards of these people, now and once the current transaction commits."""
    tokens_drop([key.format(uid) for uid in set(user_ids) if uid is not None for key in (PERSON_KEY, PAGE_KEY)])


def reference_changed() -> None:
    """Forget every dashboard and the cached yearly caps (both carry this token): a certification type or a cap
    changed."""
    tokens_drop([REFERENCE_KEY])


# Signal receivers (connected in apps.py): every write path, including the admin and the worker. -----
# QuerySet.update() and bulk_create() send no signals: code that uses them on these models calls
# person_changed() itself. A change made outside Django (SQL by hand) shows once the page expires.

# For each model a dashboard shows: the foreign key that leads to its certificant, and the lookup from the
# model to the certificant's id.
OWNED = {
    "cecs.CECEntry": ("user", "user_id"),
    "certifications.Certification": ("user", "user_id"),
    "certifications.Cycle": ("certification", "certification__user_id"),
    "certifications.CprUpload": ("certification", "certification__user_id"),
    "certifications.Certificate": ("certification", "certification__user_id"),
    "cart.CartLine": ("cart", "cart__user_id"),
}
REFERENCE = ("certifications.CertificationType", "cecs.YearlyCap")


def _stored_owner(model, pk) -> int | None:
    lookup = OWNED[model._meta.label][1]
    return model._base_manager.filter(pk=pk).values_list(lookup, flat=True).first()


def _owner(model, instance) -> int | None:
    """The row's certificant now: from the row itself, or its loaded parent, else one query."""
    name = OWNED[model._meta.label][0]
    if name == "user":
        return instance.user_id
    if model._meta.get_field(name).is_cached(instance):
        return getattr(instance, name).user_id
    return _stored_owner(model, instance.pk)


def owned_before_save(sender, instance, update_fields=None, **kwargs) -> None:
    """Remember who owned a row before a save that may move it to another person."""
    field = OWNED[sender._meta.label][0]
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and field not in update_fields and f"{field}_id" not in update_fields:
        return
    instance._dashboard_owner_before = _stored_owner(sender, instance.pk)


def owned_after_save(sender, instance, **kwargs) -> None:
    person_changed(_owner(sender, instance), getattr(instance, "_dashboard_owner_before", None))


def owned_before_delete(sender, instance, **kwargs) -> None:
    person_changed(_owner(sender, instance))


def reference_saved_or_deleted(sender, instance, **kwargs) -> None:
    reference_changed()
