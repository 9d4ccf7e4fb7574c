"""The provider area (``/provider/``): a provider user's courses, posting completions by form or CSV roster, and
listing and retracting what their provider posted. Anyone but a provider user gets 404 here.

Each view validates a form and calls one ``providers.services`` function; ``posted_by`` and ``by`` are the provider
user's email.
"""

from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from acsm_portal import clock
from acsm_portal.files import capped_uploads
from acsm_portal.uploads import MAX_FILE_BYTES
from cecs.rules import format_cecs

from . import rules, selectors
from .forms import CompletionFilterForm, CompletionForm, RetractForm, RosterForm
from .middleware import forget_provider_user
from .models import Completion
from .roster import RosterError, rejected_rows_csv, roster_read, roster_report, roster_template_csv
from .services import LATEST_ZONE, CompletionNotFound, ProviderError, completion_retract, completions_post

REJECTED_SALT = "providers.roster.rejected"
REJECTED_MAX_AGE = 24 * 60 * 60  # seconds a report's "download the rejected rows" keeps working


def provider_area(view):
    """Only a provider user gets through (``request.provider`` is their provider); anyone else gets 404."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        member = selectors.membership_for(user=request.user)
        if member is None:
            forget_provider_user(request)
            raise Http404("Not a provider user.")
        request.provider = member.provider
        return view(request, *args, **kwargs)

    return wrapper


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@provider_area
def home(request):
    """The provider's name and number, its approved courses, and what can be done here."""
    return render(request, "providers/home.html", {
        "provider": request.provider,
        "courses": selectors.courses_of(provider_id=request.provider.pk),
        "retract_days": rules.RETRACT_DAYS,
    })


@require_http_methods(["GET", "POST"])
@provider_area
def completion_new(request):
    """Post one completion: accepted (back to an empty form, with a message), duplicate (a message, the input kept)
    or rejected (the reasons on the fields, the input kept, 400)."""
    courses = selectors.courses_postable(provider_id=request.provider.pk, today=clock.today(LATEST_ZONE))
    form = CompletionForm(request.POST or None, courses=courses)
    if request.method == "POST" and form.is_valid():
        item = form.to_input()
        try:
            [result] = completions_post(provider_id=request.provider.pk, items=[item], via=Completion.Via.FORM,
                                        posted_by=request.user.email)
        except ProviderError as exc:
            form.add_error(None, exc.message)
        else:
            completion = result.completion
            if result.status == "accepted":
                messages.success(request, f"Accepted: {format_cecs(completion.cecs)} CECs for member "
                                          f"{item.member_id}, course {item.course_number}, external ID "
                                          f"“{completion.external_id}”.")
                return redirect("provider_completion_new")
            if result.status == "duplicate":
                posted = completion.created_at.astimezone(clock.zone_for(request.user)).date()
                messages.warning(request, f"Already posted on {posted:%-m/%-d/%Y} under external ID "
                                          f"“{completion.external_id}”; nothing changed.")
            else:
                for name, message in result.errors.items():
                    form.add_error(CompletionForm.FIELDS.get(name), message)
    return render(request, "providers/completion_form.html", {"form": form, "provider": request.provider},
                  status=400 if form.errors else 200)


@require_GET
@provider_area
def roster_template(request):
    """The roster template: the header line of every column."""
    return _csv_response(roster_template_csv(), "roster-template.csv")


@capped_uploads
@require_http_methods(["GET", "POST"])
@provider_area
def roster_upload(request):
    """Upload a CSV roster: the rows that can be read are posted in one ``completions_post`` call, and the report
    lists every row (line, external ID, accepted / duplicate / rejected with the reason). A file that cannot be
    read at all is refused on the form (400), nothing posted."""
    form = RosterForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["roster"]
        if upload.size > MAX_FILE_BYTES:
            form.add_error("roster", f"This file is over {MAX_FILE_BYTES // (1024 * 1024)} MB. Split it into "
                                     "smaller files and upload each.")
        else:
            try:
                upload.seek(0)
                roster = roster_read(file=upload.file)
                results = completions_post(provider_id=request.provider.pk, items=roster.items,
                                           via=Completion.Via.CSV, posted_by=request.user.email)
            except (RosterError, ProviderError) as exc:
                form.add_error("roster", str(exc))
            else:
                report = roster_report(roster=roster, results=results)
                return render(request, "providers/roster_report.html", {
                    "provider": request.provider,
                    "report": report,
                    "file_name": upload.name,
                    "rejected": _rejected_token(request.provider.pk, report) if report.totals["rejected"] else "",
                })
    return render(request, "providers/roster_upload.html", {
        "form": form, "provider": request.provider, "row_limit": rules.CSV_ROW_LIMIT,
        "size_limit_mb": MAX_FILE_BYTES // (1024 * 1024),
    }, status=400 if form.errors else 200)


def _rejected_token(provider_id: int, report) -> str:
    """The report's rejected rows, signed and compressed, for the page to post back to ``roster_rejected``."""
    rows = [[row.line, [row.cells.get(name, "") for name in report.columns], row.reason]
            for row in report.rejected_rows]
    return signing.dumps({"provider": provider_id, "columns": list(report.columns), "rows": rows},
                         salt=REJECTED_SALT, compress=True)


@require_POST
@provider_area
def roster_rejected(request):
    """The rejected rows of a report just shown, as a CSV to fix and upload again (400 for a stale or altered
    report, 404 for another provider's)."""
    try:
        data = signing.loads(request.POST.get("rows", ""), salt=REJECTED_SALT, max_age=REJECTED_MAX_AGE)
    except signing.BadSignature:
        return HttpResponse("This report is too old or was changed: upload the file again.", status=400,
                            content_type="text/plain; charset=utf-8")
    if data["provider"] != request.provider.pk:
        raise Http404("Another provider's report.")
    return _csv_response(rejected_rows_csv(columns=tuple(data["columns"]), rows=data["rows"]), "rejected-rows.csv")


@require_GET
@provider_area
def completion_list(request):
    """The provider's completions, newest posted first, 50 a page, narrowed by completion dates, course and state;
    those posted within ``rules.RETRACT_DAYS`` days offer Retract."""
    courses = selectors.courses_of(provider_id=request.provider.pk)
    form = CompletionFilterForm(request.GET, courses=courses)
    form.is_valid()  # bad dates are shown as errors; the filters that are valid still apply
    data = form.cleaned_data
    filters = selectors.CompletionFilters(
        completed_from=data.get("completed_from"), completed_to=data.get("completed_to"),
        course_id=data["course"].pk if data.get("course") else None, state=data.get("state") or None)
    page = selectors.completions_page(provider_id=request.provider.pk, filters=filters, page=request.GET.get("page"))
    return render(request, "providers/completion_list.html", {
        "provider": request.provider,
        "form": form,
        "page": page,
        "retractable_since": selectors.retractable_since(clock.now()),
        "retract_days": rules.RETRACT_DAYS,
    })


@require_http_methods(["GET", "POST"])
@provider_area
def completion_retract_view(request, pk: int):
    """Retract one of the provider's completions: a confirm page with a required reason; after
    ``rules.RETRACT_DAYS`` days it says it is too late and offers no button. Another provider's answers 404."""
    completion = selectors.completion_of(provider_id=request.provider.pk, pk=pk)
    if completion is None:
        raise Http404("No such completion.")
    form = RetractForm(request.POST or None)
    open_ = completion.created_at >= selectors.retractable_since(clock.now())
    if request.method == "POST" and completion.state == Completion.State.ACCEPTED and form.is_valid():
        try:
            completion = completion_retract(provider_id=request.provider.pk, external_id=completion.external_id,
                                            reason=form.cleaned_data["reason"], by=request.user.email)
        except CompletionNotFound:
            raise Http404("No such completion.") from None
        except ProviderError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Retracted external ID “{completion.external_id}”: the credit is off "
                                      f"member {completion.user.member_id}'s record.")
            return redirect("provider_completions")
    return render(request, "providers/completion_retract.html", {
        "provider": request.provider,
        "completion": completion,
        "form": form,
        "open": open_,
        "retract_until": completion.created_at + timedelta(days=rules.RETRACT_DAYS),
        "retract_days": rules.RETRACT_DAYS,
    }, status=400 if form.errors else 200)
