"""CSV rosters: a provider's file of completions read as it streams in, and the report of what became of each row.

A roster is UTF-8 text (a byte order mark, as Excel writes one, is fine), comma separated, its first line a header
naming the columns ``member_id,last_name,course_number,completed_on,external_id`` in any order, plus ``cecs`` if
wanted; other columns are ignored (so the rejected rows, downloaded with their ``line`` and ``reason``, can be fixed
and sent again as they are). Dates are YYYY-MM-DD or M/D/YYYY. A file that cannot be read as such is refused whole
(``RosterError``); a row that cannot be read is a rejected row with its reason, its line number as in the file
(the header is line 1), and the others go on.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from acsm_portal.fields import PLAIN_NUMBER

from . import rules
from .models import Completion
from .services import EXTERNAL_ID_MAX, CompletionIn, ItemResult

REQUIRED = ("member_id", "last_name", "course_number", "completed_on", "external_id")
OPTIONAL = ("cecs",)
LABELS = {
    "member_id": "member ID",
    "last_name": "last name",
    "course_number": "course number",
    "completed_on": "completion date",
    "external_id": "external ID",
    "cecs": "CECs",
}
# The columns added to the rejected rows offered back for fixing; ignored when the file comes back.
REPORT_COLUMNS = ("line", "reason")
CELL_MAX = 200
BOM = "\ufeff"

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_US_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


class RosterError(Exception):
    """The file as a whole cannot be taken (not UTF-8, not CSV, no usable header, too many rows); the message says
    why, for the person who sent it."""


@dataclass
class RosterRow:
    """One row of the file: ``line`` where it starts (the header is line 1), ``cells`` the known columns as given
    (stripped; "" for a missing cell), ``item`` what is posted, or None with ``error`` saying why it cannot be."""

    line: int
    cells: dict[str, str]
    item: CompletionIn | None = None
    error: str = ""


@dataclass
class Roster:
    """A file read whole: ``columns`` the known columns its header names (in ``REQUIRED + OPTIONAL`` order),
    ``rows`` every non-blank row under the header, in file order."""

    columns: tuple[str, ...]
    rows: list[RosterRow]

    @property
    def items(self) -> list[CompletionIn]:
        """The rows that could be read, to post in one call, in file order."""
        return [row.item for row in self.rows if row.item is not None]


@dataclass
class ReportRow:
    """What became of one row: ``status`` "accepted", "duplicate" (``completion`` is the one posted before, left
    as it was) or "rejected" (``reason``)."""

    line: int
    external_id: str
    status: str
    cells: dict[str, str]
    completion: Completion | None = None
    reason: str = ""


@dataclass
class RosterReport:
    """Every row's outcome in file order, with the totals."""

    columns: tuple[str, ...]
    rows: list[ReportRow]
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_rows(self) -> list[ReportRow]:
        return [row for row in self.rows if row.status == "rejected"]


def roster_template_csv() -> str:
    """The roster template providers download: a byte order mark (so Excel reads it as UTF-8) and the header
    line, every column, CRLF-ended as CSV has it."""
    return BOM + ",".join(REQUIRED + OPTIONAL) + "\r\n"


def roster_read(*, file: BinaryIO) -> Roster:
    """Read the roster in the binary file object ``file`` line by line (it is never held whole in memory).

    Returns every non-blank row under the header (``Roster``), each either ready to post or rejected with its
    reason. Raises ``RosterError`` for a file that is empty, not UTF-8, not readable as CSV, whose header lacks a
    required column or names one twice, that has no rows, or more than ``rules.CSV_ROW_LIMIT`` rows (reading stops
    at the first row too many)."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    try:
        return _read(text)
    except UnicodeDecodeError:
        raise RosterError("This file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” and upload "
                          "it again.") from None
    except csv.Error as exc:
        raise RosterError(f"This file cannot be read as CSV ({exc}). Save it as “CSV UTF-8 (comma delimited)” "
                          "and upload it again.") from None
    finally:
        text.detach()  # the upload stays open for whoever owns it


def _read(text: Iterable[str]) -> Roster:
    reader = csv.reader(text)
    line_end = 0  # the last physical line read so far: a quoted cell may span several lines
    positions: dict[str, int] | None = None
    width = 0
    rows: list[RosterRow] = []
    for cells in reader:
        start, line_end = line_end + 1, reader.line_num
        if any("\x00" in cell for cell in cells):
            raise RosterError(f"This is not a CSV text file (line {start} holds binary data). Save it as “CSV "
                              "UTF-8 (comma delimited)” and upload it again.")
        if not any(cell.strip() for cell in cells):
            continue  # blank lines are skipped, and still counted in the line numbers
        if positions is None:
            positions, width = _header(cells), len(cells)
            continue
        if len(rows) == rules.CSV_ROW_LIMIT:
            raise RosterError(f"This file has more than {rules.CSV_ROW_LIMIT:,} rows. Split it into files of at "
                              f"most {rules.CSV_ROW_LIMIT:,} rows and upload each.")
        rows.append(_row(start, cells, positions, width))
    if positions is None:
        raise RosterError("This file is empty. The first line must be the header: " + ",".join(REQUIRED) + ".")
    if not rows:
        raise RosterError("This file has a header and no rows under it.")
    return Roster(columns=tuple(positions), rows=rows)


def _header(cells: list[str]) -> dict[str, int]:
    """The known columns of the header row → their positions, in ``REQUIRED + OPTIONAL`` order."""
    if len(cells) == 1 and (separator := next((s for s in (";", "\t") if s in cells[0]), None)):
        raise RosterError(f"The header (line 1) is separated by {'semicolons' if separator == ';' else 'tabs'}; "
                          "a roster's columns are separated by commas. Save it as “CSV UTF-8 (comma delimited)” "
                          "and upload it again.")
    names = ["_".join(re.split(r"[\s\-]+", cell.strip().lower())) for cell in cells]
    for name in REQUIRED + OPTIONAL:
        if names.count(name) > 1:
            raise RosterError(f"The header names the column {name} twice.")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise RosterError(
            f"The header (line 1) is missing the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            f"The first line must name the columns {','.join(REQUIRED)} (and {OPTIONAL[0]} if you give CECs); "
            "download the template to start from.")
    return {name: names.index(name) for name in REQUIRED + OPTIONAL if name in names}


def _row(line: int, cells: list[str], positions: dict[str, int], width: int) -> RosterRow:
    values = {name: (cells[at].strip() if at < len(cells) else "") for name, at in positions.items()}
    row = RosterRow(line=line, cells=values)
    short = any(at >= len(cells) for name, at in positions.items() if name in REQUIRED)
    extra = any(cell.strip() for cell in cells[width:])
    if short or extra:
        row.error = f"This row has {len(cells)} cells; the header has {width}."
        return row
    errors = []
    for name in REQUIRED:
        if not values[name]:
            errors.append(f"The {LABELS[name]} is missing.")
    for name, value in values.items():
        if len(value) > CELL_MAX:
            errors.append(f"The {LABELS[name]} is longer than {CELL_MAX} characters.")
    if CELL_MAX >= len(values["external_id"]) > EXTERNAL_ID_MAX:
        errors.append(f"The external ID is longer than {EXTERNAL_ID_MAX} characters.")
    completed_on = _date(values["completed_on"]) if values["completed_on"] else None
    if values["completed_on"] and completed_on is None and len(values["completed_on"]) <= CELL_MAX:
        errors.append(f"The completion date “{values['completed_on']}” is not a date: write YYYY-MM-DD or "
                      "M/D/YYYY.")
    cecs = None
    if values.get("cecs"):
        cecs = _decimal(values["cecs"])
        if cecs is None and len(values["cecs"]) <= CELL_MAX:
            errors.append(f"The CECs “{values['cecs']}” are not a number such as 1.5.")
    if errors:
        row.error = " ".join(errors)
        return row
    row.item = CompletionIn(member_id=values["member_id"], last_name=values["last_name"],
                            course_number=values["course_number"], completed_on=completed_on,
                            external_id=values["external_id"], cecs=cecs)
    return row


def _date(value: str) -> date | None:
    if match := _ISO_DATE.fullmatch(value):
        year, month, day = match.groups()
    elif match := _US_DATE.fullmatch(value):
        month, day, year = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _decimal(value: str) -> Decimal | None:
    if len(value) > 20 or not value.isascii() or not PLAIN_NUMBER.fullmatch(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def roster_report(*, roster: Roster, results: list[ItemResult]) -> RosterReport:
    """Every row of ``roster`` with its outcome, ``results`` being what ``completions_post`` answered for
    ``roster.items`` (in that order). A row repeating the external ID of an earlier row accepted from this file is
    said to repeat that line. ``totals``: rows, accepted, duplicate, rejected."""
    answers = iter(results)
    accepted_at: dict[str, int] = {}  # external ID -> the line accepted under it in this file
    rows = []
    for row in roster.rows:
        if row.item is None:
            rows.append(ReportRow(row.line, row.cells["external_id"], "rejected", row.cells, reason=row.error))
            continue
        result = next(answers)
        if result.status == "rejected":
            reason = " ".join(result.errors[name] for name in REQUIRED + OPTIONAL if name in result.errors)
            if result.external_id in accepted_at and "external_id" in result.errors:
                reason = reason.replace(result.errors["external_id"],
                                        f"Repeats the external ID of line {accepted_at[result.external_id]}.")
            rows.append(ReportRow(row.line, result.external_id, "rejected", row.cells, reason=reason))
            continue
        if result.status == "accepted":
            accepted_at[result.external_id] = row.line
        rows.append(ReportRow(row.line, result.external_id, result.status, row.cells, completion=result.completion))
    totals = {"rows": len(rows)} | {status: sum(r.status == status for r in rows)
                                     for status in ("accepted", "duplicate", "rejected")}
    return RosterReport(columns=roster.columns, rows=rows, totals=totals)


def rejected_rows_csv(*, columns: tuple[str, ...], rows: list[tuple[int, list[str], str]]) -> str:
    """The rejected rows as a CSV to fix and upload again: a byte order mark, the header (``columns``, then
    ``line`` and ``reason``), then each ``(line, cells in columns order, reason)``."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([*columns, *REPORT_COLUMNS])
    for line, cells, reason in rows:
        writer.writerow([*map(spreadsheet_safe, cells), line, spreadsheet_safe(reason)])
    return out.getvalue()


# Cell openings a spreadsheet would run as a formula (OWASP "CSV injection").
FORMULA_OPENINGS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text: one that opens like a formula gets a leading apostrophe."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_OPENINGS) else cell
