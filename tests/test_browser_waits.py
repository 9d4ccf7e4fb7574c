"""The browser tests and the fixtures that start the worker and the servers wait on conditions, never on time:
no sleeps, no ``wait_for_timeout``, and no timeout of their own in a browser test (the suite sets them once, in
tests/e2e/conftest.py and helpers.py). ``tests/waits.py`` holds the one pause allowed: the interval between two
checks of a condition in ``wait_until``.

A failure names each offending line as ``path:line``.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
# Each joined from two parts so that this file does not match itself.
SLEEPS = ("wait_for" + "_timeout(", "sleep" + "(")
OWN_TIMEOUT = "timeout" + "="
# Where a line may do what the rest may not, and why.
ALLOWED = {
    ("tests/waits.py", "sleep" + "("): "the interval between two checks of a condition in wait_until",
    ("tests/e2e/helpers.py", OWN_TIMEOUT): "the suite's timeouts, set once",
    ("tests/e2e/conftest.py", OWN_TIMEOUT): "the suite's timeouts, set once",
}


def scanned_files() -> list[Path]:
    """Every Python file of the browser tests, the shared fixtures and the waiting helper."""
    browser = sorted(path for path in (TESTS / "e2e").rglob("*.py") if "__pycache__" not in path.parts)
    return browser + [TESTS / "conftest.py", TESTS / "waits.py"]


def offending_lines(relative: str, text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` (numbered from 1) that wait on time, or set a timeout in a browser test."""
    patterns = SLEEPS + ((OWN_TIMEOUT,) if relative.startswith("tests/e2e/") else ())
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        if any(pattern in code and (relative, pattern) not in ALLOWED for pattern in patterns):
            found.append((number, line.strip()))
    return found


def test_browser_tests_and_fixtures_wait_on_conditions():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in scanned_files()
        for number, line in offending_lines(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "Wait on a condition instead (expect(...), page.wait_for_function, a response, tests.waits.wait_until); "
        "timeouts are set once in tests/e2e/conftest.py:\n" + "\n".join(offenders))


def test_the_scan_covers_every_browser_test_and_the_fixtures():
    scanned = {str(path.relative_to(ROOT)) for path in scanned_files()}
    for expected in ("tests/conftest.py", "tests/waits.py", "tests/e2e/conftest.py", "tests/e2e/helpers.py",
                     "tests/e2e/test_seed_flow.py", "tests/e2e/test_accessibility.py", "tests/e2e/test_cart.py"):
        assert expected in scanned
    assert not any("__pycache__" in name for name in scanned)
    # The one allowed pause is real, so the pattern matches code.
    assert "sleep" + "(" in (TESTS / "waits.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("line", [
    "page.wait_for" + "_timeout(500)",
    "time.sleep" + "(0.1)",
    "await asyncio.sleep" + "(1)",
    "sleep" + "(2)  # after from time import sleep",
    "expect(heading).to_be_visible(timeout" + "=15_000)",
    "page.click('text=Pay', timeout" + "=5000)",
], ids=["wait-for-timeout", "time-sleep", "asyncio-sleep", "bare-sleep", "expect-timeout", "action-timeout"])
def test_each_wait_on_time_is_caught_in_a_browser_test(line):
    assert offending_lines("tests/e2e/test_x.py", f"import x\n    {line}\n") == [(2, line)]


@pytest.mark.parametrize("relative, line, caught", [
    ("tests/conftest.py", "time.sleep" + "(0.2)", True),
    ("tests/conftest.py", "proc.wait(timeout" + "=10)", False),  # a process's exit, not a browser step
    ("tests/waits.py", "time.sleep" + "(POLL_INTERVAL)", False),
    ("tests/e2e/conftest.py", "expect.set_options(timeout" + "=EXPECT_TIMEOUT_MS)", False),
    ("tests/e2e/test_x.py", "expect(row).to_have_text('100%')", False),
    ("tests/e2e/test_x.py", "# no time" + ".sleep" + "() here, a comment", False),
])
def test_what_is_allowed_where(relative, line, caught):
    assert bool(offending_lines(relative, line)) is caught
