"""Login lockout by account and address, and by address alone at a higher limit.

django-axes compares one failure count with one limit (``AXES_FAILURE_LIMIT``), and
listing ``"ip_address"`` as a second lockout parameter would both share that low limit
and let one successful login from the address wipe every failure recorded there
(``AXES_RESET_ON_SUCCESS`` resets whatever the parameters match). So the records stay
per email and address, and this handler adds a second check: the failures from one
address across all accounts, within the cool-off window, against
``AXES_ADDRESS_FAILURE_LIMIT``. A success resets only that account's own record from
the address, so logging in to one's own account does not clear a spray against others.
"""

from typing import Optional

from django.conf import settings
from django.db.models import Sum

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt


def address_failures(request) -> int:
    """Failed logins from the request's address, over every account, within the cool-off time."""
    ip_address = getattr(request, "axes_ip_address", None)
    if not ip_address:
        return 0
    attempts = AccessAttempt.objects.filter(ip_address=ip_address)
    if settings.AXES_COOLOFF_TIME is not None:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


class AccountAndAddressHandler(AxesDatabaseHandler):
    """Locked when the email+address pair reaches ``AXES_FAILURE_LIMIT``, or the address alone
    reaches ``AXES_ADDRESS_FAILURE_LIMIT``."""

    def get_failures(self, request, credentials: Optional[dict] = None) -> int:
        pair = super().get_failures(request, credentials)
        limit = settings.AXES_ADDRESS_FAILURE_LIMIT
        if limit:
            from_address = address_failures(request)
            if from_address >= limit:
                # Axes compares this with AXES_FAILURE_LIMIT, which is lower: locked.
                return max(pair, from_address)
        return pair
