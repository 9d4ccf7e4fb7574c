"""The certificant's forms on the audit page: one file of proof for a credit, the note sent with the submission, and
a credit picked as a replacement. They check only what was sent; the services judge the rest."""

from django import forms

from acsm_portal import uploads

from . import rules


class ProofForm(forms.Form):
    """One file of proof for one credit (its content is checked by ``services.audit_proof_add``)."""

    file = forms.FileField(
        label="Upload proof", allow_empty_file=True,
        error_messages={"required": "Choose a file of proof (a certificate of completion or a transcript) first."},
        widget=forms.FileInput(attrs={"accept": uploads.ACCEPT}),
    )


class SubmitForm(forms.Form):
    """Submit for review, with an optional note to the reviewer."""

    note = forms.CharField(
        label="Note for the reviewer (optional)", required=False, max_length=rules.MAX_NOTE_LENGTH, strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
        error_messages={"max_length": f"Keep the note under {rules.MAX_NOTE_LENGTH} characters."},
    )


class ReplacementForm(forms.Form):
    """One of the person's credits to add to an audit in its second window."""

    cec_entry = forms.IntegerField(min_value=1, error_messages={"required": "Pick a credit to add.",
                                                                "invalid": "Pick a credit to add."})
