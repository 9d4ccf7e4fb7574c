"""Only ``acsm_portal/clock.py`` reads the time: every other Python file of the project, the tests and the
scripts included, asks the clock (``clock.now()``, ``clock.today()``, ``clock.today_for(person)``).

A failure names each offending line as ``path:line``.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREES = ("accounts", "cecs", "certifications", "cart", "payments", "audits", "acsm_portal", "scripts", "loadtests",
         "tests")
CLOCK = ROOT / "acsm_portal" / "clock.py"
# The direct readers of the time, each joined from two parts so that this file does not match itself.
READERS = (
    "date" + ".today(",
    "timezone" + ".now(",
    "local" + "date(",
    "datetime" + ".now(",
    "datetime" + ".utcnow(",
)


def python_files() -> list[Path]:
    """manage.py and every .py file under the project's packages, the tests and the scripts, but the clock."""
    found = [ROOT / "manage.py"]
    for tree in TREES:
        found += sorted(path for path in (ROOT / tree).rglob("*.py")
                        if not {"__pycache__", ".venv"} & set(path.relative_to(ROOT).parts))
    return [path for path in found if path != CLOCK]


def clock_reads(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` (numbered from 1) that read the time directly."""
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if any(reader in line for reader in READERS)]


def test_only_the_clock_reads_the_time():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line}"
        for path in python_files()
        for number, line in clock_reads(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "Read the time through acsm_portal.clock instead:\n" + "\n".join(offenders)


def test_the_scan_covers_the_project_but_the_clock():
    scanned = {str(path.relative_to(ROOT)) for path in python_files()}
    for expected in ("manage.py", "accounts/views.py", "acsm_portal/dashboard/views.py", "certifications/views.py", "cart/services.py",
                     "payments/services.py", "acsm_portal/settings.py", "scripts/bench_pages.py",
                     "tests/factories.py", "tests/test_clock_reads.py"):
        assert expected in scanned
    assert "acsm_portal/clock.py" not in scanned
    assert not any(name.startswith(".venv/") or "/__pycache__/" in name for name in scanned)
    # The clock itself does read the time, so the patterns match real code.
    assert clock_reads(CLOCK.read_text(encoding="utf-8")) != []


@pytest.mark.parametrize("line", [
    "today = " + "date" + ".today()",
    "now = " + "timezone" + ".now()",
    "today = timezone." + "local" + "date()",
    "stamp = " + "datetime" + ".now().astimezone()",
    "stamp = " + "datetime" + ".utcnow()",
], ids=["date-today", "timezone-now", "localdate", "datetime-now", "datetime-utcnow"])
def test_each_reader_is_caught(line):
    assert clock_reads(f"import x\n    {line}  # here\n") == [(2, f"{line}  # here")]


@pytest.mark.parametrize("line", [
    "today = clock.today()", "now = clock.now()", "today = clock.today_for(request.user)",
    "day = date(today.year, 12, 31)", "when = datetime.combine(day, time.min)",
])
def test_reads_through_the_clock_pass(line):
    assert clock_reads(line) == []
