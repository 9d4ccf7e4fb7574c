"""The Certification Maintenance page: choose, upload and submit a CPR/AED card; its files for owner and staff."""

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from acsm_portal import clock, uploads
from acsm_portal.files import capped_uploads, file_response

from ..models import CprUploadFile
from ..selectors import certification_for
from .forms import CprDetailsForm
from .selectors import cpr_file_for, cpr_maintenance_for
from .services import CprError, cpr_upload_add_file, cpr_upload_discard, cpr_upload_submit


def _own_certification(request, certification_id: int):
    certification = certification_for(user=request.user, certification_id=certification_id)
    if certification is None:
        raise Http404("No such certification.")
    return certification


def _add_files(request, certification, files) -> tuple[list[CprUploadFile], list[str]]:
    added, refused = [], []
    if len(files) > uploads.MAX_FILES:
        return [], [f"Choose at most {uploads.MAX_FILES} files (you chose {len(files)})."]
    for upload in files:
        try:
            added.append(cpr_upload_add_file(
                certification=certification, user=request.user, name=upload.name, data=upload.read(),
            ))
        except CprError as exc:
            refused.append(exc.message)
    return added, refused


def _typed(post) -> dict:
    """What the person typed into the card details, to show again without judging it yet."""
    return {name: post.get(name, "") for name in CprDetailsForm.base_fields} | {
        "skills_check_confirmed": post.get("skills_check_confirmed") in ("on", "true", "1"),
    }


@never_cache
@require_http_methods(["GET", "POST"])
@capped_uploads
def cpr_maintenance(request, certification_id: int):
    """Certification Maintenance: choose and upload card files into a draft, then Submit them with the card details.

    Works as a plain multipart form; static/js/cpr-upload.js adds per-file upload progress.
    """
    certification = _own_certification(request, certification_id)
    form = CprDetailsForm()
    refused: list[str] = []
    if request.method == "POST":
        files = request.FILES.getlist("files")
        added, refused = _add_files(request, certification, files)
        if request.POST.get("action") == "submit":
            form = CprDetailsForm(request.POST)
            if not refused and form.is_valid():
                try:
                    cpr_upload_submit(certification=certification, user=request.user, details=form.to_details(),
                                      today=clock.today_for(request.user))
                except CprError as exc:
                    if exc.field in form.fields:
                        form.add_error(exc.field, exc.message)
                    else:
                        refused.append(exc.message)
                else:
                    messages.success(request, f"Your CPR/AED card for {certification.certification_type.code} "
                                              "was submitted for review.")
                    return redirect("dashboard")
        else:
            form = CprDetailsForm(initial=_typed(request.POST))
            if not files:
                refused.append("Choose one or more files to upload.")
        if added:
            names = ", ".join(f"“{f.original_name}”" for f in added)
            messages.success(request, f"Uploaded {names}. Press Submit when all files of your card are uploaded.")
    state = cpr_maintenance_for(certification=certification)
    return render(request, "certifications/maintenance.html", {
        "certification": certification,
        "state": state,
        "form": form,
        "refused": refused,
        "accept": uploads.ACCEPT,
        "max_files": uploads.MAX_FILES,
        "today": clock.today_for(request.user),
    }, status=400 if refused or form.errors else 200)


def _file_json(stored: CprUploadFile) -> dict:
    return {
        "key": str(stored.key),
        "name": stored.original_name,
        "size": stored.size,
        "size_label": uploads.format_size(stored.size),
        "url": reverse("cpr_file_download", args=[stored.key]),
    }


@require_POST
@capped_uploads
def cpr_file_upload(request, certification_id: int):
    """One file into the draft, for the page's script (it shows the upload's progress). Answers JSON."""
    certification = _own_certification(request, certification_id)
    files = request.FILES.getlist("file")
    if len(files) != 1:
        return JsonResponse({"error": "Send one file at a time."}, status=400)
    added, refused = _add_files(request, certification, files)
    if refused:
        return JsonResponse({"error": refused[0]}, status=400)
    return JsonResponse({"file": _file_json(added[0])}, status=201)


@require_POST
def cpr_draft_discard(request, certification_id: int):
    """Remove All: throw away the draft and its files."""
    certification = _own_certification(request, certification_id)
    removed = cpr_upload_discard(certification=certification, user=request.user)
    if removed:
        messages.info(request, f"Removed {removed} uploaded file{'s' if removed != 1 else ''}.")
    return redirect("cpr_maintenance", certification_id=certification.pk)


@require_GET
def cpr_file_download(request, key):
    """A card file, to its owner or a CPR reviewer only; anyone else gets 404."""
    found = cpr_file_for(user=request.user, key=key)
    if found is None:
        raise Http404("No such file.")
    return file_response(found, as_attachment=True)
