"""Forms of the provider area. They check shapes; whether a completion is taken is ``completions_post``'s call."""

from django import forms

from acsm_portal.fields import FiniteDecimalField
from cecs.rules import format_cecs

from .models import Completion, Course
from .services import EXTERNAL_ID_MAX, CompletionIn

DATE_WIDGET = {"type": "date"}


class CourseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, course: Course) -> str:
        return f"{course.number} · {course.title} ({format_cecs(course.cecs)} CECs)"


class CompletionForm(forms.Form):
    """One completion posted by hand. ``courses`` are the provider's courses to choose from (no other provider's
    can be chosen, whatever is posted)."""

    member_id = forms.CharField(label="Member ID", max_length=20)
    last_name = forms.CharField(label="Last name", max_length=150)
    course = CourseChoiceField(label="Course", queryset=Course.objects.none(), empty_label="Choose a course")
    completed_on = forms.DateField(label="Date completed", widget=forms.DateInput(attrs=DATE_WIDGET,
                                                                                   format="%Y-%m-%d"))
    external_id = forms.CharField(label="External ID", max_length=EXTERNAL_ID_MAX,
                                  help_text="Your own ID for this completion, such as a registration number. "
                                            "Posting the same external ID again changes nothing.")
    cecs = FiniteDecimalField(label="CECs (optional)", required=False, max_digits=6, decimal_places=2,
                              help_text="Leave blank to grant the CECs approved for the course.",
                              widget=forms.TextInput(attrs={"inputmode": "decimal"}))

    # The service's error fields → this form's.
    FIELDS = {"member_id": "member_id", "last_name": "last_name", "course_number": "course",
              "completed_on": "completed_on", "external_id": "external_id", "cecs": "cecs"}

    def __init__(self, *args, courses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses
        self.fields["member_id"].widget.attrs.update(autocomplete="off", inputmode="numeric")
        self.fields["last_name"].widget.attrs.update(autocomplete="off")

    def to_input(self) -> CompletionIn:
        d = self.cleaned_data
        return CompletionIn(member_id=d["member_id"].strip(), last_name=d["last_name"].strip(),
                            course_number=d["course"].number, completed_on=d["completed_on"],
                            external_id=d["external_id"].strip(), cecs=d["cecs"])


class RosterForm(forms.Form):
    roster = forms.FileField(label="CSV roster file",
                             widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


class CompletionFilterForm(forms.Form):
    """The completions list's filters (a GET form: every field optional)."""

    completed_from = forms.DateField(label="Completed from", required=False,
                                     widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"))
    completed_to = forms.DateField(label="Completed through", required=False,
                                   widget=forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d"))
    course = CourseChoiceField(label="Course", queryset=Course.objects.none(), required=False,
                               empty_label="All courses")
    state = forms.ChoiceField(label="State", required=False,
                              choices=[("", "Any state"), *Completion.State.choices])

    def __init__(self, *args, courses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["course"].queryset = courses

    def clean(self):
        data = super().clean()
        start, end = data.get("completed_from"), data.get("completed_to")
        if start and end and start > end:
            self.add_error("completed_to", "Give a date on or after the “Completed from” date.")
        return data


class RetractForm(forms.Form):
    reason = forms.CharField(label="Reason for the retraction", max_length=500,
                             error_messages={"required": "Give the reason for the retraction."},
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Kept with the completion, for the certificant's record and the "
                                       "certification department.")
