from django import forms

from accounts.selectors import billing_address
from acsm_portal.fields import FiniteDecimalField

from .services import BillingInput

PAGE_INCOMPLETE = "The page was incomplete; please reload it."


class BillingForm(forms.Form):
    name = forms.CharField(label="Name on card", max_length=300)
    line1 = forms.CharField(label="Address", max_length=200)
    line2 = forms.CharField(label="Address line 2", max_length=200, required=False)
    city = forms.CharField(max_length=100)
    state = forms.CharField(label="State / province", max_length=100, required=False)
    postal_code = forms.CharField(label="ZIP / postal code", max_length=20)
    country = forms.CharField(label="Country (2-letter code)", max_length=2, min_length=2, initial="US")
    save_to_profile = forms.BooleanField(label="Save this address to my profile", required=False, initial=True)
    # The total the person was shown; the server compares it with the total now.
    # A person never types it, so every refusal says the same; the field refuses NaN, Infinity, exponents and
    # over-long input before the total is ever compared.
    expected_total = FiniteDecimalField(widget=forms.HiddenInput, max_digits=10, decimal_places=2, error_messages={
        code: PAGE_INCOMPLETE for code in ("required", "invalid", "too_long", "max_digits", "max_decimal_places",
                                           "max_whole_digits")})

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not country.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. US.")
        return country

    def billing(self) -> BillingInput:
        d = self.cleaned_data
        return BillingInput(name=" ".join(d["name"].split()), line1=d["line1"].strip(), line2=d["line2"].strip(),
                            city=d["city"].strip(), state=d["state"].strip(), postal_code=d["postal_code"].strip(),
                            country=d["country"])

    @classmethod
    def initial_for(cls, user) -> dict:
        """The form's first values for ``user``: their name, and their saved billing address if any."""
        return {"name": user.get_full_name(), **(billing_address(user=user) or {})}
