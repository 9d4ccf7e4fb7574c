"""The page benchmark's judgements (``scripts/bench_pages.py``): what counts as a query per row, a sequential
scan of a large table, and a response that is not the real page. Its timings are never asserted anywhere."""

from datetime import date

from acsm_portal import clock
from scripts.bench_pages import PAGES, Plan, page_problem, repeated, seq_scans

PAGE = {page.key: page for page in PAGES}


def test_a_statement_run_for_each_row_is_a_query_per_row():
    session = "SELECT * FROM django_session WHERE session_key = 'abc' LIMIT 21"
    per_row = [f'SELECT COUNT(*) FROM "certifications_cpruploadfile" WHERE "upload_id" = {n}' for n in range(50)]
    assert repeated([session, *per_row]) == [
        ('SELECT COUNT(*) FROM "certifications_cpruploadfile" WHERE "upload_id" = ?', 50)]
    assert repeated([session, *per_row[:4]]) == []


def test_a_sequential_scan_is_flagged_on_a_large_table_only():
    plan = ["Hash Join  (cost=8.41..21.19 rows=4 width=370)",
            "  ->  Seq Scan on certifications_certificationtype  (cost=0.00..12.20 rows=220 width=342)",
            "  ->  Parallel Seq Scan on certifications_cprupload  (cost=0.00..2950.00 rows=50000 width=80)"]
    rows = {"certifications_certificationtype": 4.0, "certifications_cprupload": 120_000.0}
    assert seq_scans(plan, rows) == ["certifications_cprupload"]


def test_a_login_redirect_a_changed_cart_or_a_short_queue_page_is_not_the_page():
    cart = PAGE["cart"]
    assert page_problem(cart, 302, "") == "status 302"
    assert page_problem(cart, 200, "GEI Recertification") == "no 'CEP Recertification'"
    assert page_problem(cart, 200, "GEI Recertification CEP Recertification") is None
    assert page_problem(cart, 200, "CEP Recertification was removed from your cart; GEI Recertification") == \
        "the cart changed on display"
    queue = PAGE["queue"]
    row = '<input type="checkbox" name="_selected_action" value="1">'
    assert page_problem(queue, 200, '<table id="result_list">' + row * 37) == "37 rows, not 50"
    assert page_problem(queue, 200, '<table id="result_list">' + row * 50) is None


def test_the_seed_holds_the_volume_the_issue_names():
    today = clock.today()
    plan = Plan(users=100_000, today=today)
    expected = plan.expected()
    assert (expected["users"], expected["cards"], expected["cart_lines"]) == (100_001, 120_000, 64)
    assert plan.codes(1) == plan.codes(32) == ("GEI", "CPT", "EP", "CEP")
    assert (plan.credits(16), plan.credits(17), plan.credits(33)) == (60, 500, 5)
    assert plan.cycle == (date(today.year - 2, 1, 1), date(today.year, 12, 31))  # open through this year's end
