"""The public page that checks an uploaded certificate PDF: is its signature ours, intact and over the whole
document, and which certificate is it (with that certificate's status today)?

``document_check`` does the checking (``acsm_portal.signing.pdf_signature_check`` against our certificate as the
only trust root, then the certificate named in the signed document's subject, where ``certificate_pdf`` writes
its verify page's address); ``verify_document`` is the page. No log-in; more than ``settings.VERIFY_RATE`` checks
a minute from one address are refused.
"""

import re
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from acsm_portal import clock
from acsm_portal.files import capped_uploads
from acsm_portal.signing import SIGNER_NAME, NotAPdf, PdfSignatureCheck, pdf_signature_check
from acsm_portal.uploads import clean_name
from certifications.models import Certificate

from .badges import Outcome  # one check's outcome, as the credential check has them
from .selectors import live_status

MAX_PDF_BYTES = 5 * 1024 * 1024
MAX_PDF_LABEL = "5 MB"
# The verify page's address and the certificate number, as certificate_pdf writes them into the subject.
_VERIFY_CODE = re.compile(r"/verify/([A-Za-z0-9_-]{8,32})/")
_NUMBER = re.compile(r"\bCertificate (\S+?)\.(?:\s|$)")

# Each status's colour on the page (its name is always written beside it).
STATUS_TONES = {
    Certificate.Status.ACTIVE: "success",
    Certificate.Status.GRACE: "warning",
    Certificate.Status.LAPSED: "secondary",
    Certificate.Status.RENEWED: "secondary",
    Certificate.Status.SUSPENDED: "danger",
    Certificate.Status.REVOKED: "danger",
}


@dataclass(frozen=True)
class DocumentCheck:
    """What ``document_check`` found. ``valid``: signed by us, intact, nothing added after signing; ``verdict``
    the page's heading; ``outcomes`` each check in order; ``certificate`` the certificate the signed document names
    (only for a valid one; None when it names none we know); ``signature`` pyHanko's findings."""

    valid: bool
    verdict: str
    outcomes: list[Outcome]
    signature: PdfSignatureCheck
    certificate: Certificate | None = None

    @property
    def in_good_standing(self) -> bool:
        return self.certificate is not None and self.certificate.status == Certificate.Status.ACTIVE

    @property
    def status_tone(self) -> str:
        return STATUS_TONES.get(self.certificate.status, "secondary") if self.certificate else ""

    @property
    def verify_path(self) -> str:
        """The certificate's public verify page ("" without a certificate)."""
        if self.certificate is None:
            return ""
        return _url_or("verify", f"/verify/{self.certificate.verify_code}/", self.certificate.verify_code)


def document_check(*, data: bytes) -> DocumentCheck:
    """Check the PDF ``data`` (whole file bytes) as a certificate from this portal.

    The signature must be made with our signing key (``settings.SIGNING_CERT_FILE``), the signed bytes unchanged
    and the signature must cover the whole file; only then is the certificate it names (by verify code, else by
    number, from the signed revision's subject) looked up, and its live status reported. Raises ``NotAPdf``
    when ``data`` cannot be read as a PDF, ``ImproperlyConfigured`` when our certificate is missing."""
    found = pdf_signature_check(data)
    if not found.signed:
        return DocumentCheck(False, "Not valid: this PDF is not signed", [
            Outcome("Signature", False, f"The document carries no digital signature. Every certificate PDF from "
                                        f"{SIGNER_NAME} is signed, so this one is not as we issued it."),
        ], found)
    if not found.intact:
        return DocumentCheck(False, "Not valid: the document was changed after it was signed", [
            Outcome("Signature", False, "The signature no longer matches the document: something in it was "
                                        "changed after it was signed (or the file is damaged)."),
        ], found)
    if not found.ours:
        return DocumentCheck(False, f"Not valid: not signed by {SIGNER_NAME}", [
            Outcome("Signature", False, f"The document is signed, but not with {SIGNER_NAME}'s key, whatever "
                                        "name the signature gives."),
        ], found)
    outcomes = [Outcome("Signature", True, f"Signed by {SIGNER_NAME}"
                        + (f" on {clock.moment_text(found.signed_at, None)}." if found.signed_at else "."))]
    if not (found.whole_document and found.unchanged):
        outcomes.append(Outcome("Whole document", False, "Something was added to the file after it was signed, "
                                                         "so what it shows may not be what was signed."))
        return DocumentCheck(False, "Not valid: the document was changed after it was signed", outcomes, found)
    outcomes.append(Outcome("Whole document", True, "Nothing was changed or added since it was signed."))
    certificate = _certificate_named(found.revision_info or {})
    if certificate is None:
        outcomes.append(Outcome("Certificate", False, "The document names no certificate on record."))
        return DocumentCheck(False, "Not valid: no such certificate on record", outcomes, found)
    outcomes.append(Outcome("Certificate", True, f"It is certificate {certificate.number}, on record."))
    # Its status at this moment, as its verify page says it (the stored one may wait for the hourly refresh).
    certificate.status = live_status(certificate)
    if certificate.status != Certificate.Status.ACTIVE:
        return DocumentCheck(True, f"A genuine document from {SIGNER_NAME}, unchanged, but the certificate is "
                                   f"{certificate.get_status_display()} today", outcomes, found, certificate)
    return DocumentCheck(True, f"Valid: a genuine certificate from {SIGNER_NAME}, unchanged", outcomes, found,
                         certificate)


def _certificate_named(info: dict[str, str]) -> Certificate | None:
    """The certificate a signed document's subject names: by its verify code, else by its number."""
    subject = info.get("/Subject", "")
    if code := _VERIFY_CODE.search(subject):
        return Certificate.objects.filter(verify_code=code[1]).first()
    if number := _NUMBER.search(subject):
        return Certificate.objects.filter(number=number[1]).first()
    return None


class DocumentForm(forms.Form):
    """A certificate PDF of at most ``MAX_PDF_BYTES``; ``cleaned_data["file"]`` is its bytes."""

    file = forms.FileField(label="The certificate PDF", help_text=f"A .pdf file, up to {MAX_PDF_LABEL}.",
                           widget=forms.ClearableFileInput(attrs={"accept": ".pdf,application/pdf"}))

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        shown = clean_name(upload.name or "the file")
        if upload.size > MAX_PDF_BYTES:
            raise forms.ValidationError(f"“{shown}” is larger than {MAX_PDF_LABEL}; a certificate PDF is far "
                                        "smaller. Upload the PDF as it was downloaded from MyACSM.")
        data = upload.read()
        if not data:
            raise forms.ValidationError(f"“{shown}” is empty. Choose the certificate PDF again.")
        if b"%PDF-" not in data[:1024]:
            raise forms.ValidationError(f"“{shown}” is not a PDF. Upload the certificate as the PDF file "
                                        "downloaded from MyACSM (a photo, scan or printout cannot be checked).")
        return data


def _verify_rate(group, request) -> str:
    return settings.VERIFY_RATE


@login_not_required
@capped_uploads
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=_verify_rate, method="POST", block=False)
def verify_document(request):
    """``/verify/document/``: a form taking a certificate PDF; on POST it says whether the PDF is valid (signed
    by us, intact, whole) and which certificate it is, with that certificate's status today and a link to its
    verify page. 400 with the form's message for a file that is not a readable PDF or is too large; 429 for more
    than ``VERIFY_RATE`` checks a minute from one address."""
    form, result, status = DocumentForm(), None, 200
    if request.method == "POST":
        if getattr(request, "limited", False):
            status = 429
        else:
            form = DocumentForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    result = document_check(data=form.cleaned_data["file"])
                    form = DocumentForm()
                except NotAPdf:
                    form.add_error("file", "This file could not be read as a PDF (it may be damaged, incomplete "
                                           "or password-protected). Download the certificate again and upload "
                                           "that copy.")
                    status = 400
            else:
                status = 400
    return render(request, "verification/document.html", {
        "form": form, "result": result, "limited": status == 429, "signer_name": SIGNER_NAME,
        "checked_at": clock.moment_text(clock.now(), None),
        "search_url": _url_or("verify_search", "/verify/"),
    }, status=status)


def _url_or(name: str, path: str, *args: str) -> str:
    """The path of the URL named ``name`` (with ``args``), or ``path`` where there is no such page."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return path
