from decimal import Decimal

from django import forms

from acsm_portal.fields import finite_decimal_formfield

from .models import CECEntry
from .services import CECInput


class CECForm(forms.ModelForm):
    """Report or edit one credit. Domain checks live in ``services``; this form checks shapes."""

    class Meta:
        model = CECEntry
        formfield_callback = finite_decimal_formfield
        fields = ["date_earned", "units", "credit_type", "course_name", "provider", "format"]
        labels = {
            "date_earned": "Date Earned",
            "units": "Credits earned",
            "credit_type": "Credit Type",
            "course_name": "Course Name",
            "provider": "Provider (optional)",
            "format": "Format",
        }
        help_texts = {
            "units": "In the unit chosen under Credit Type: 1 CEU = 10 CECs, 1 CME = 1 CEC, "
            "1 college credit hour = 10 CECs.",
        }
        widgets = {
            "date_earned": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "units": forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["units"].min_value = None
        self.fields["course_name"].widget.attrs["maxlength"] = 200

    def clean_course_name(self):
        name = " ".join(self.cleaned_data["course_name"].split())
        if not name:
            raise forms.ValidationError("Enter the course name.")
        return name

    def clean_units(self):
        units = self.cleaned_data["units"]
        if units is not None and units <= Decimal("0"):
            raise forms.ValidationError("Credits earned must be more than 0.")
        return units

    def to_input(self) -> CECInput:
        d = self.cleaned_data
        return CECInput(
            date_earned=d["date_earned"],
            units=d["units"],
            credit_type=d["credit_type"],
            course_name=d["course_name"],
            provider=" ".join(d.get("provider", "").split()),
            format=d["format"],
        )
