"""Queueing the worker's jobs so that a commit always leads to its job, whatever the broker is doing.

A service queues a job with ``queue_after_commit``: the job is sent to the broker once the transaction that calls
for it has committed, so the worker never sees a row that is not there yet. Nothing outside Postgres decides
whether that commit stands: when the broker is down (or slow) at that moment the commit is kept, the person sees
the page the commit earned, and the failure is logged. The job itself is never lost, because every job the
portal queues leaves a mark in the database until it is done (``receipt_emailed_at``, ``rendered_at``,
``decision_emailed_at``, ``set_password_emailed_at``): the sweeper (``acsm_portal.tasks.lost_jobs_requeue``) finds
what is not done ``LOST_AFTER`` later and queues it again, and each job does nothing when run twice.

Times, all in seconds, fit together (``settings.CELERY_*``):

- a job runs at most ``CELERY_TASK_TIME_LIMIT`` (90 s) before the worker kills it;
- a worker's claim on a job (``CLAIM``, 100 s) outlives that, so a claim older than ``CLAIM`` belongs to a worker
  that is gone;
- a job's retries are few and close together (at most ``RETRY_BACKOFF_MAX``, 20 s, apart): a worker holds a retry
  unacknowledged until it is due, so waiting plus running (20 + 90 s) stays under the broker's visibility timeout;
  a longer outage (SMTP down for an hour) is the sweeper's to catch up, one fresh try a minute, not a pile of
  retry chains;
- the broker hands an unacknowledged job to another worker after ``visibility_timeout`` (150 s), longer than all
  of that, so a job redelivered after its worker was killed finds the claim expired and runs.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from . import clock

log = logging.getLogger(__name__)

# How long a worker's claim on a job keeps other workers away: longer than any job may run.
CLAIM = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 10)

# How long after it was called for an unfinished job counts as lost, for the sweeper to queue again.
LOST_AFTER = timedelta(minutes=3)

# Older lost jobs are left to staff (the admin lists show them): a receipt a week late helps nobody.
SWEEP_WINDOW = timedelta(days=7)

# Longest wait between two retries of a job, in seconds; with the job's own time limit, under the broker's
# visibility timeout.
RETRY_BACKOFF_MAX = 20

# Retries of one job before it is left to the sweeper.
MAX_RETRIES = 4

# Sending a job to the broker: a few quick tries, then give up and leave the job to the sweeper.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def queue(task, *args) -> bool:
    """Send Celery ``task`` with positional ``args`` to the broker now. Returns whether the broker took it.

    Never raises for a broker that is down, refuses or times out: that is logged, and the sweeper queues the job
    again later (the job's own row says it is not done). With tasks run in-process (the demo), the job runs here
    and its own failure is logged the same way.
    """
    try:
        task.apply_async(args=args, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception:  # kombu's OperationalError, redis-py's ConnectionError, OSError, a failing in-process job
        log.warning("Could not queue %s%r; the sweeper will queue it again", task.name, args, exc_info=True)
        return False
    return True


def unsent(queryset, *, called_at: str, claimed_at: str, after: timedelta):
    """The rows of ``queryset`` (already narrowed to jobs not done) whose job was called for (``called_at``, a
    datetime field) more than ``after`` ago and within ``SWEEP_WINDOW``, and that no live worker holds (their
    ``claimed_at`` field empty or older than ``CLAIM``), oldest first: the sweeper's shape for every kind of job.
    Returns a queryset."""
    now = clock.now()
    return (queryset.filter(**{f"{called_at}__lte": now - after, f"{called_at}__gte": now - SWEEP_WINDOW})
            .filter(Q(**{f"{claimed_at}__isnull": True}) | Q(**{f"{claimed_at}__lte": now - CLAIM}))
            .order_by(called_at, "pk"))


def queue_after_commit(task, *args) -> None:
    """Send ``task(*args)`` to the broker once the current transaction commits (at once outside one); see
    ``queue``. A broker failure then neither undoes the commit nor reaches the person."""
    transaction.on_commit(partial(queue, task, *args))
