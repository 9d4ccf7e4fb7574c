"""Forms of the public status pages: the search by certificate number and last name, and Find a certified
professional. Both are sent by GET, so that a page of results is an address like any other and holds no token."""

from django import forms


class VerifySearchForm(forms.Form):
    """A certificate number and its holder's last name, as printed on the certificate."""

    number = forms.CharField(label="Certificate number", max_length=30,
                             help_text="As printed on the certificate, such as CPT-2027-483920.",
                             widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                           "autocapitalize": "characters"}))
    last_name = forms.CharField(label="Holder's last name", max_length=150,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))

    def clean_number(self) -> str:
        return self.cleaned_data["number"].strip().upper()


class FindForm(forms.Form):
    """Find a certified professional: an exact last name, and a state to narrow it."""

    last_name = forms.CharField(label="Last name", max_length=150, help_text="The whole last name, exactly.",
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    state = forms.CharField(label="State (optional)", max_length=100, required=False,
                            help_text="A US state by name or two-letter code (IN or Indiana), or a province.",
                            widget=forms.TextInput(attrs={"autocomplete": "off"}))
