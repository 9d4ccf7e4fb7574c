from django import forms

from ..models import CprUpload
from .services import CardDetails


class CprDetailsForm(forms.Form):
    """The card's details, asked on Submit. Domain checks (expiry, skills check) live in ``services``."""

    card_type = forms.ChoiceField(label="Card type", choices=[("", "Choose…"), *CprUpload.CardType.choices])
    issuing_organization = forms.CharField(
        label="Issuing organization", max_length=200,
        help_text="For example American Heart Association or American Red Cross.",
    )
    expires_on = forms.DateField(
        label="Expiry date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="As printed on the card.",
    )
    skills_check_confirmed = forms.BooleanField(
        label="The course included a hands-on skills check (not online-only).", required=False,
    )

    def clean_issuing_organization(self):
        name = " ".join(self.cleaned_data["issuing_organization"].split())
        if not name:
            raise forms.ValidationError("Enter the organization that issued the card.")
        return name

    def to_details(self) -> CardDetails:
        d = self.cleaned_data
        return CardDetails(
            card_type=d["card_type"],
            issuing_organization=d["issuing_organization"],
            expires_on=d["expires_on"],
            skills_check_confirmed=bool(d["skills_check_confirmed"]),
        )


class CprRejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason (the certificant reads this)", max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
