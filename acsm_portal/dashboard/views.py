"""The CEC Dashboard and the Report CECs, edit and delete pages it links to.

A view validates a form, asks ``certifications`` which cycles a credit may be reported into on the person's
date, and calls one ``cecs`` service with them.
"""

from functools import cache

from crispy_forms.templatetags.crispy_forms_filters import as_crispy_form
from django.conf import settings
from django.contrib import messages
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from acsm_portal import clock
from cecs.forms import CECForm
from cecs.models import CECEntry
from cecs.rules import format_cecs
from cecs.services import CECError, cec_delete, cec_report, cec_update
from certifications.selectors import reportable_cycles

from .markup import ledger_rows_html, tiles_html
from .selectors import dashboard_for


@require_GET
def dashboard(request):
    """Every certification as a tile, the Complete Recertification button, and the Active CECs table."""
    today = clock.today_for(request.user)
    board = dashboard_for(user=request.user, today=today)
    csrf_token = get_token(request)  # one token for the tiles' forms and the template's
    return render(request, "certifications/dashboard.html", {
        "board": board,
        "csrf_token": csrf_token,
        "tiles": tiles_html(board.tiles, today=today, zone_label=clock.zone_label_for(request.user),
                            csrf_token=csrf_token, audits=board.audits),
        "ledger_rows": ledger_rows_html(board.rows),
        "report_form": empty_report_form(),
        "learning_url": settings.ONLINE_LEARNING_PLATFORM_URL,
    })


@cache
def empty_report_form() -> str:
    """The empty Report CECs form the dashboard opens inline, as crispy-forms writes it: rendered once per process.
    It holds nothing of the person or the request (the CSRF token is outside it), and rendering its widgets cost
    more than the rest of the page; the Report CECs page, which shows errors, renders its form each time."""
    return as_crispy_form(CECForm())


@require_http_methods(["GET", "POST"])
def report(request):
    """Report CECs: the form, and on a valid POST the credit recorded into a cycle open for reporting."""
    form = CECForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        today = clock.today_for(request.user)
        try:
            entry = cec_report(user=request.user, data=form.to_input(), today=today,
                               cycles=reportable_cycles(user=request.user, today=today))
        except CECError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Reported {format_cecs(entry.cecs)} CECs for “{entry.course_name}”.")
            return redirect("dashboard")
    return render(request, "cecs/report.html", {"form": form})


def _not_theirs(request, entry: CECEntry):
    """For a credit the person did not report (a provider or staff did): a message and the dashboard, nothing
    changed; None for their own."""
    if entry.source == CECEntry.Source.SELF:
        return None
    refusal = "Only credits you reported yourself can be changed; contact us about this one."
    if entry.source == CECEntry.Source.PROVIDER:
        refusal = f"“{entry.course_name}” was reported by {entry.provider}. {refusal}"
    messages.error(request, refusal)
    return redirect("dashboard")


@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    """Change one of the person's own self-reported credits (another person's answers 404; one a provider or staff
    reported, a message)."""
    entry = get_object_or_404(CECEntry, pk=pk, user=request.user)
    if refused := _not_theirs(request, entry):
        return refused
    form = CECForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        today = clock.today_for(request.user)
        try:
            entry = cec_update(entry=CECEntry.objects.get(pk=pk), data=form.to_input(), today=today,
                               cycles=reportable_cycles(user=request.user, today=today))
        except CECError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Updated “{entry.course_name}”.")
            return redirect("dashboard")
    return render(request, "cecs/report.html", {"form": form, "entry": entry})


@require_http_methods(["GET", "POST"])
def delete(request, pk: int):
    """Confirm, then delete one of the person's own self-reported credits (another person's answers 404; one a
    provider or staff reported, a message)."""
    entry = get_object_or_404(CECEntry, pk=pk, user=request.user)
    if refused := _not_theirs(request, entry):
        return refused
    if request.method == "POST":
        today = clock.today_for(request.user)
        try:
            cec_delete(entry=entry, cycles=reportable_cycles(user=request.user, today=today))
        except CECError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Deleted “{entry.course_name}”.")
        return redirect("dashboard")
    return render(request, "cecs/delete.html", {"entry": entry})
