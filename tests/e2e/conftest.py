"""How long the Chromium tests wait, set once for the whole suite (the values are in helpers.py).

Playwright's ``expect`` waits for its condition, a click for its element, a ``goto`` for the load event;
these are only how long each may take on a busy machine before the test fails. A test never sets its own
timeout (tests/test_browser_waits.py checks).
"""

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.helpers import EXPECT_TIMEOUT_MS, patient

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture
def context(context: BrowserContext) -> BrowserContext:
    """pytest-playwright's context (the one ``page`` opens in), with this suite's timeouts."""
    return patient(context)
