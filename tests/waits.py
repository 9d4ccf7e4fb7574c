"""Waiting on a condition, never on the clock alone: for tests that watch another process (a worker, a server,
the browser's page through the database).

A busy machine (two cores, another suite running beside) makes every step slower, never different; so a wait
gives up only after ``PATIENCE`` seconds, long enough that it fails only when the condition will not come.
"""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

PATIENCE = 120.0  # seconds a condition may take on a loaded machine before the test fails
POLL_INTERVAL = 0.05  # seconds between two checks of a condition


def wait_until(condition: Callable[[], T], *, what: str, timeout: float = PATIENCE) -> T:
    """Check ``condition()`` until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` when ``timeout`` seconds pass first. Exceptions from ``condition``
    propagate (a worker that died is not waited for). The pause between checks is this project's only
    ``sleep`` in the waiting code of the tests (tests/test_browser_waits.py allows it here and nowhere else):
    it spaces the checks, it is not what the test waits for.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(POLL_INTERVAL)
