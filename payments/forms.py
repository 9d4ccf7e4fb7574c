from decimal import Decimal, InvalidOperation

from django import forms

from accounts.models import BillingAddress

from .services import BillingInput


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
    expected_total = forms.CharField(widget=forms.HiddenInput)

    def clean_country(self):
        country = self.cleaned_data["country"].strip().upper()
        if not country.isalpha():
            raise forms.ValidationError("Use the two-letter country code, e.g. US.")
        return country

    def clean_expected_total(self):
        try:
            return Decimal(self.cleaned_data["expected_total"])
        except InvalidOperation:
            raise forms.ValidationError("The page was incomplete; please reload it.") from None

    def billing(self) -> BillingInput:
        d = self.cleaned_data
        return BillingInput(name=" ".join(d["name"].split()), line1=d["line1"].strip(), line2=d["line2"].strip(),
                            city=d["city"].strip(), state=d["state"].strip(), postal_code=d["postal_code"].strip(),
                            country=d["country"])

    @classmethod
    def initial_for(cls, user) -> dict:
        address = BillingAddress.objects.filter(user=user).first()
        initial = {"name": user.get_full_name()}
        if address is not None:
            initial.update(line1=address.line1, line2=address.line2, city=address.city, state=address.state,
                           postal_code=address.postal_code, country=address.country)
        return initial
