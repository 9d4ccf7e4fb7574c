"""Reading CSV rosters (providers/roster.py): encodings, headers, dates, limits, line numbers as in the file, and the
report and rejected rows built from what ``completions_post`` answered. No database: the service's answers are made
here."""

import calendar
import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile

from acsm_portal import clock
from providers import rules
from providers.models import Completion, Course
from providers.roster import (
    RosterError,
    rejected_rows_csv,
    roster_read,
    roster_report,
    roster_template_csv,
)
from providers.services import CompletionIn, ItemResult

Y = clock.today().year
LEAP = next(year for year in range(Y, Y - 8, -1) if calendar.isleap(year))
HEADER = "member_id,last_name,course_number,completed_on,external_id"


def read(text: str, encoding: str = "utf-8"):
    return roster_read(file=io.BytesIO(text.encode(encoding)))


def refused(text: str | bytes) -> str:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(RosterError) as caught:
        roster_read(file=io.BytesIO(data))
    return str(caught.value)


def test_a_roster_is_read_into_items_in_file_order():
    roster = read(f"{HEADER},cecs\r\n200001,Lee,EIM-1,{Y}-03-04,R-1,\r\n200002, Muñoz ,EIM-2,3/9/{Y},R-2,1.5\r\n")
    assert roster.columns == ("member_id", "last_name", "course_number", "completed_on", "external_id", "cecs")
    assert [row.line for row in roster.rows] == [2, 3]
    assert [row.error for row in roster.rows] == ["", ""]
    assert roster.items == [
        CompletionIn(member_id="200001", last_name="Lee", course_number="EIM-1", completed_on=date(Y, 3, 4),
                     external_id="R-1", cecs=None),
        CompletionIn(member_id="200002", last_name="Muñoz", course_number="EIM-2", completed_on=date(Y, 3, 9),
                     external_id="R-2", cecs=Decimal("1.5")),
    ]


def test_a_byte_order_mark_is_not_part_of_the_first_column():
    roster = read(f"\ufeff{HEADER}\n200001,Lee,EIM-1,{Y}-03-04,R-1\n")
    assert roster.columns[0] == "member_id"
    assert roster.items[0].member_id == "200001"


def test_columns_in_any_order_spelled_loosely_and_other_columns_ignored():
    roster = read("Notes,External ID,Course-Number,completed_on,LAST NAME,Member ID\n"
                  f"hi,R-7,EIM-1,1/2/{Y},Lee,200001\n")
    assert roster.columns == ("member_id", "last_name", "course_number", "completed_on", "external_id")
    assert roster.items == [CompletionIn(member_id="200001", last_name="Lee", course_number="EIM-1",
                                         completed_on=date(Y, 1, 2), external_id="R-7")]


def test_a_file_that_is_not_utf8_is_refused():
    latin1 = f"{HEADER}\n200001,Muñoz,EIM-1,{Y}-03-04,R-1\n".encode("latin-1")
    assert refused(latin1) == ("This file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” and upload it "
                               "again.")


def test_binary_files_are_refused():
    assert refused(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR") == (
        "This file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” and upload it again.")
    assert refused(f"{HEADER}\n200001,Lee\x00,EIM-1,{Y}-03-04,R-1\n") == (
        "This is not a CSV text file (line 2 holds binary data). Save it as “CSV UTF-8 (comma delimited)” and "
        "upload it again.")


def test_a_missing_column_is_named():
    assert refused(f"member_id,last_name,completed_on,external_id\n200001,Lee,{Y}-03-04,R-1\n") == (
        "The header (line 1) is missing the column course_number. The first line must name the columns "
        "member_id,last_name,course_number,completed_on,external_id (and cecs if you give CECs); download the "
        "template to start from.")
    # Semicolons or tabs (a spreadsheet set to another locale, a tab-separated export) are said to be so.
    assert refused(HEADER.replace(",", ";") + "\n") == (
        "The header (line 1) is separated by semicolons; a roster's columns are separated by commas. Save it as "
        "“CSV UTF-8 (comma delimited)” and upload it again.")
    assert refused(HEADER.replace(",", "\t") + "\n").startswith("The header (line 1) is separated by tabs; ")


def test_a_column_named_twice_an_empty_file_and_a_header_alone_are_refused():
    assert refused(f"{HEADER},member_id\n") == "The header names the column member_id twice."
    assert refused("") == ("This file is empty. The first line must be the header: "
                           "member_id,last_name,course_number,completed_on,external_id.")
    assert refused("\n\n,,\n") == refused("")
    assert refused(f"{HEADER}\n\n") == "This file has a header and no rows under it."


@pytest.mark.parametrize(("cell", "expected"), [
    (f"{Y}-03-04", date(Y, 3, 4)),
    (f"3/4/{Y}", date(Y, 3, 4)),
    (f"03/04/{Y}", date(Y, 3, 4)),
    (f"12/31/{Y - 1}", date(Y - 1, 12, 31)),
    (f"2/29/{LEAP}", date(LEAP, 2, 29)),
])
def test_dates_in_either_shape(cell, expected):
    assert read(f"{HEADER}\n200001,Lee,EIM-1,{cell},R-1\n").items[0].completed_on == expected


@pytest.mark.parametrize("cell", [
    f"2/30/{Y}", f"{Y}-13-01", f"13/45/{Y}", f"{Y}/03/04", f"3-4-{Y}", f"{Y}-3-4", f"3/4/{Y % 100:02d}",
    "yesterday", f"{Y}-02-30", "".join(chr(0x660 + int(d)) if d.isdigit() else d for d in f"3/4/{Y}"),
])
def test_a_bad_date_rejects_its_row_with_the_reason(cell):
    roster = read(f"{HEADER}\n200001,Lee,EIM-1,{cell},R-1\n200002,Kim,EIM-1,{Y}-01-02,R-2\n")
    [bad, good] = roster.rows
    assert (bad.line, bad.item) == (2, None)
    assert bad.error == f"The completion date “{cell}” is not a date: write YYYY-MM-DD or M/D/YYYY."
    assert (good.line, good.error, good.item.external_id) == (3, "", "R-2")
    assert len(roster.items) == 1


def test_malformed_cells_are_each_a_reason():
    roster = read(
        f"{HEADER},cecs\n"
        f",Lee,EIM-1,{Y}-01-02,R-1,\n"  # no member ID
        f"200002,,,{Y}-01-02,,\n"  # no last name, course or external ID
        f"200003,Lee,EIM-1,{Y}-01-02,R-3,1e3\n"  # not a plain number
        f"200004,Lee,EIM-1,soon,R-4,-\n"
        f"200005,Lee,EIM-1,{Y}-01-02,{'x' * 101},\n"
        f"200006,{'y' * 201},EIM-1,{Y}-01-02,R-6,\n"
    )
    assert [(row.line, row.error) for row in roster.rows] == [
        (2, "The member ID is missing."),
        (3, "The last name is missing. The course number is missing. The external ID is missing."),
        (4, "The CECs “1e3” are not a number such as 1.5."),
        (5, "The completion date “soon” is not a date: write YYYY-MM-DD or M/D/YYYY. "
            "The CECs “-” are not a number such as 1.5."),
        (6, "The external ID is longer than 100 characters."),
        (7, "The last name is longer than 200 characters."),
    ]
    assert roster.items == []


def test_rows_with_too_few_or_too_many_cells():
    roster = read(f"{HEADER},cecs\n"
                  f"200001,Lee,EIM-1\n"
                  f"200002,Lee,EIM-1,{Y}-01-02,R-2\n"  # no cecs cell: the optional column may be left off
                  f"200003,Lee,EIM-1,{Y}-01-02,R-3,,,\n"  # empty cells past the header: harmless
                  f"200004,Lee,EIM-1,{Y}-01-02,R-4,,surprise\n")
    assert [(row.line, row.error) for row in roster.rows] == [
        (2, "This row has 3 cells; the header has 6."),
        (3, ""),
        (4, ""),
        (5, "This row has 7 cells; the header has 6."),
    ]
    assert [item.external_id for item in roster.items] == ["R-2", "R-3"]


def test_line_numbers_are_the_file_s_own():
    """Blank lines count, a quoted cell spanning lines counts each line, CRLF and LF alike; the header is line 1
    even after blank lines before it."""
    roster = read(f"\r\n{HEADER}\r\n200001,Lee,EIM-1,{Y}-01-02,R-1\r\n\r\n,,,,\r\n"
                  f'200002,"Lee\nSmith",EIM-1,{Y}-01-02,R-2\n200003,Lee,EIM-1,{Y}-01-02,R-3\n')
    assert [(row.line, row.cells["external_id"]) for row in roster.rows] == [(3, "R-1"), (6, "R-2"), (8, "R-3")]


def test_ten_thousand_rows_are_read_and_one_more_is_refused():
    body = "".join(f"{300000 + n},Lee,EIM-1,{Y}-01-02,R-{n}\n" for n in range(rules.CSV_ROW_LIMIT))
    roster = read(f"{HEADER}\n{body}")
    assert len(roster.items) == 10_000
    assert roster.rows[-1].line == 10_001
    assert refused(f"{HEADER}\n{body}\n\n999999,Lee,EIM-1,{Y}-01-02,R-last\n") == (
        "This file has more than 10,000 rows. Split it into files of at most 10,000 rows and upload each.")


def test_a_roster_stored_on_disk_is_read_the_same(tmp_path):
    """A big upload is kept in a temporary file, not in memory: read it the same, and leave it open."""
    upload = TemporaryUploadedFile("roster.csv", "text/csv", 0, "utf-8")
    upload.write(f"\ufeff{HEADER}\n200001,Lee,EIM-1,{Y}-01-02,R-1\n".encode())
    upload.seek(0)
    roster = roster_read(file=upload.file)
    assert [item.external_id for item in roster.items] == ["R-1"]
    assert not upload.closed
    upload.close()


def test_the_template_is_the_header_with_a_byte_order_mark():
    assert roster_template_csv() == "\ufeffmember_id,last_name,course_number,completed_on,external_id,cecs\r\n"
    assert read(roster_template_csv()[1:] + f"200001,Lee,EIM-1,{Y}-01-02,R-1,\r\n").items[0].external_id == "R-1"


def completion(external_id: str, cecs: str = "5", number: str = "EIM-1") -> Completion:
    return Completion(external_id=external_id, cecs=Decimal(cecs), course=Course(number=number))


def test_the_report_gives_every_row_its_outcome_in_file_order():
    roster = read(f"{HEADER}\n"
                  f"200001,Lee,EIM-1,{Y}-01-02,R-1\n"  # accepted
                  f"200002,Lee,EIM-1,bad,R-2\n"  # refused while reading
                  f"200003,Lee,EIM-1,{Y}-01-02,R-3\n"  # posted before
                  f"200004,Lee,NOPE,{Y}-01-02,R-4\n"  # refused by the service
                  f"200005,Lee,EIM-1,{Y}-01-02,R-1\n")  # repeats line 2's external ID
    first, before = completion("R-1"), completion("R-3")
    results = [
        ItemResult(0, "R-1", "accepted", completion=first),
        ItemResult(1, "R-3", "duplicate", completion=before),
        ItemResult(2, "R-4", "rejected", errors={"course_number": "Not an approved course of this provider.",
                                                 "member_id": "No certificant matches this member ID and last name."}),
        ItemResult(3, "R-1", "rejected", errors={"external_id": "Repeats the external ID of item 1."}),
    ]
    report = roster_report(roster=roster, results=results)
    assert [(r.line, r.external_id, r.status, r.reason) for r in report.rows] == [
        (2, "R-1", "accepted", ""),
        (3, "R-2", "rejected", "The completion date “bad” is not a date: write YYYY-MM-DD or M/D/YYYY."),
        (4, "R-3", "duplicate", ""),
        (5, "R-4", "rejected", "No certificant matches this member ID and last name. "
                               "Not an approved course of this provider."),
        (6, "R-1", "rejected", "Repeats the external ID of line 2."),
    ]
    assert report.rows[0].completion is first and report.rows[2].completion is before
    assert report.totals == {"rows": 5, "accepted": 1, "duplicate": 1, "rejected": 3}
    assert [r.line for r in report.rejected_rows] == [3, 5, 6]


def test_the_rejected_rows_csv_can_be_fixed_and_sent_again():
    text = rejected_rows_csv(columns=("member_id", "last_name", "course_number", "completed_on", "external_id"),
                             rows=[[3, ["200002", "Lee, Jr.", "EIM-1", "bad", "R-2"], "The date is bad."],
                                   [5, ["200004", "Lee", "NOPE", f"{Y}-01-02", "R-4"], "Not a course."]])
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["member_id", "last_name", "course_number", "completed_on", "external_id", "line", "reason"],
        ["200002", "Lee, Jr.", "EIM-1", "bad", "R-2", "3", "The date is bad."],
        ["200004", "Lee", "NOPE", f"{Y}-01-02", "R-4", "5", "Not a course."],
    ]
    fixed = text.replace(",bad,", f",{Y}-01-05,")
    roster = roster_read(file=io.BytesIO(fixed.encode()))
    assert [(row.line, row.error) for row in roster.rows] == [(2, ""), (3, "")]
    assert [(i.last_name, i.completed_on) for i in roster.items] == [("Lee, Jr.", date(Y, 1, 5)),
                                                                     ("Lee", date(Y, 1, 2))]
