"""The part of a certification's tile about its latest audit, as HTML (the tiles are written in Python for speed:
see ``markup``). Every text is escaped; the one URL holds only the audit's number."""

from html import escape

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from audits import rules
from audits.selectors import AuditSummary

# Waiting for the certificant: the due date in their zone, how far they are, and the way to the audit page.
ANSWER = """<div class="tile-audit tile-audit-{state} border border-4 border-warning-subtle rounded bg-warning-subtle mt-3 p-2">
        <p class="fw-semibold mb-1">{headline}</p>
        <p class="small mb-1 tile-audit-due">Due {deadline}</p>
        <p class="small mb-2 tile-audit-progress">{progress}</p>
        <a class="btn btn-primary btn-sm" href="{url}">Submit audit documents</a>
      </div>"""
# Waiting for staff, or decided.
OUTCOME = """<div class="tile-audit tile-audit-{state} border-start border-4 {tone} mt-3 ps-2">
        <p class="fw-semibold mb-0">{headline}</p>
        <a class="small" href="{url}">View your audit</a>
      </div>"""
OUTCOMES = {
    rules.SUBMITTED: ("Audit documents submitted – under review", "border-primary"),
    rules.PASSED: ("Audit passed", "border-success"),
    rules.FAILED: ("Your recertification audit failed: this certification is suspended", "border-danger"),
}


def audit_tile_html(audit: AuditSummary | None) -> SafeString:
    """What a tile says about ``audit`` (its certification's latest, or None): while the certificant answers
    (selected, or in a second window) **Your recertification was selected for audit** (or the second window's
    line), "Due 12/29/Y at 11:59 PM Pacific time", "2 of 5 credits documented" and **Submit audit documents**;
    submitted, passed or failed, one line and a link to the audit. Nothing for no audit, or one canceled or
    reinstated (the tile's status says the rest)."""
    if audit is None:
        return mark_safe("")
    url = reverse("audit", args=[audit.audit_id])
    if audit.needs_answer:
        return mark_safe(ANSWER.format(state=audit.state, headline=escape(audit.headline),
                                       deadline=escape(audit.deadline_text), progress=escape(audit.progress.label),
                                       url=url))
    if audit.state in OUTCOMES:
        headline, tone = OUTCOMES[audit.state]
        return mark_safe(OUTCOME.format(state=audit.state, headline=escape(headline), tone=tone, url=url))
    return mark_safe("")
