"""Open Badges pages: a holder's credential download, the issuer's published key, a credential's live status, and
the public page that checks a credential. All but the download answer without a log-in; the status and the check
are throttled per address (``settings.VERIFY_RATE``)."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from acsm_portal import clock
from acsm_portal.files import capped_uploads
from certifications.models import Certificate

from . import badges


def _verify_rate(group, request) -> str:
    return settings.VERIFY_RATE


def _public_json(data: dict, *, status: int = 200, max_age: int = 0) -> JsonResponse:
    """JSON any site may read (verifiers fetch it from their own pages), cached ``max_age`` seconds."""
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = f"public, max-age={max_age}" if max_age else "no-store"
    return response


@require_GET
def badge_download(request, number: str):
    """The holder's certificate ``number`` as a signed Open Badges 3.0 credential (``<number>.jwt``,
    ``application/vc+jwt``). Only its holder may download it: anyone else's, an unknown, a void, a revoked or a
    suspended one is 404."""
    certificate = (Certificate.objects.select_related("certification__user", "certification__certification_type")
                   .filter(certification__user=request.user, number=number, voided_at__isnull=True)
                   # Not while revoked or suspended: a credential signed now would pass any check that skips its
                   # status.
                   .exclude(status__in=[Certificate.Status.REVOKED, Certificate.Status.SUSPENDED]).first())
    if certificate is None:
        raise Http404("No such certificate.")
    response = HttpResponse(badges.badge_sign(certificate=certificate), content_type=badges.MEDIA_TYPE)
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.number}-open-badge.jwt"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_not_required
@require_GET
def did_document(request):
    """``/.well-known/did.json``: the portal's did:web document with its public signing key."""
    return _public_json(badges.did_document(), max_age=300)


@login_not_required
@require_GET
def issuer_jwks(request):
    """``/.well-known/jwks.json``: the public signing key as a JWK set."""
    return _public_json(badges.issuer_jwks(), max_age=300)


@login_not_required
@require_GET
@ratelimit(key="ip", rate=_verify_rate, method="GET", block=False)
def credential_status(request, code: str):
    """``/verify/<code>/status.json``: the live status of the certificate behind a credential (see
    ``badges.credential_status``); an unknown code or a void certificate is 404 ``{"status": "unknown"}``, and more
    than ``VERIFY_RATE`` requests from one address 429."""
    if getattr(request, "limited", False):
        return _public_json({"error": "Too many requests; try again in a minute."}, status=429)
    certificate = badges.certificate_for_code(code)
    if certificate is None:
        return _public_json({"status": "unknown"}, status=404)
    return _public_json(badges.credential_status(certificate=certificate))


class CredentialForm(forms.Form):
    """A credential pasted as text or uploaded as a file (one of the two)."""

    credential = forms.CharField(label="Paste the credential", required=False, max_length=badges.MAX_TOKEN_CHARS,
                                 widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false",
                                                              "autocomplete": "off"}),
                                 help_text="The contents of the .jwt file the certificate's holder downloaded.")
    file = forms.FileField(label="Or upload the credential file", required=False,
                           widget=forms.ClearableFileInput(attrs={"accept": ".jwt,application/vc+jwt,text/plain"}))

    def clean(self):
        data = super().clean()
        text, upload = (data.get("credential") or "").strip(), data.get("file")
        if text and upload:
            raise forms.ValidationError("Paste the credential or upload its file, not both.")
        if upload:
            raw = upload.read(badges.MAX_TOKEN_CHARS + 1)
            if len(raw) > badges.MAX_TOKEN_CHARS:
                raise forms.ValidationError("That file is too large to be a credential.")
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise forms.ValidationError("That file is not a credential (.jwt text file).") from None
        if not text:
            raise forms.ValidationError("Paste the credential or upload its file.")
        data["token"] = text
        return data


@login_not_required
@capped_uploads
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_verify_rate, method="POST", block=False)
def verify_credential(request):
    """``/verify/credential/``: a form taking an Open Badges credential; on POST it says Valid or Not valid with
    the outcome of each check (signature, dates, live status) and when it was checked. More than ``VERIFY_RATE``
    checks from one address a minute are refused (429)."""
    form, result, status = CredentialForm(), None, 200
    if request.method == "POST":
        if getattr(request, "limited", False):
            status = 429
        else:
            form = CredentialForm(request.POST, request.FILES)
            if form.is_valid():
                result = badges.credential_check(token=form.cleaned_data["token"])
                form = CredentialForm()
            else:
                status = 400
    return render(request, "verification/credential.html", {
        "form": form, "result": result, "limited": status == 429,
        "checked_at": clock.moment_text(clock.now(), request.user),
    }, status=status)
