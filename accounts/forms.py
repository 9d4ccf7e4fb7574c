from django import forms

from acsm_portal import clock

# The zones most certificants live in come first in the list; every IANA zone follows.
COMMON_ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Toronto", "America/Vancouver",
]


def time_zone_choices(*, unset: str = "") -> list[tuple[str, str] | tuple[str, list[tuple[str, str]]]]:
    """Select options: the common North American zones by name, then every other zone a person may have
    (``clock.zone_names``), grouped; with ``unset``, a first blank option of that label."""
    common = [(name, f"{clock.zone_label(name)} ({name})") for name in COMMON_ZONES if clock.is_zone_name(name)]
    rest = [(name, name.replace("_", " ")) for name in sorted(clock.zone_names() - set(COMMON_ZONES))]
    return ([("", unset)] if unset else []) + [("Common", common), ("All time zones", rest)]


class TimeZoneForm(forms.Form):
    """The person's own time zone, on their profile page (always one of the zones a person may have)."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        error_messages={"invalid_choice": "Choose your time zone from the list."},
        help_text="Your deadlines (cycle end, grace period, CPR card expiry) end at 11:59 PM in this zone.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()


class EmailPreferencesForm(forms.Form):
    """Whether the person gets reminder emails, on the Email preferences page."""

    reminders = forms.BooleanField(
        label="Send me reminders", required=False,
        help_text="Before your cycle ends, before your CPR/AED card expires, during the grace period and after a "
                  "lapse.",
    )


class FindListingForm(forms.Form):
    """Whether the person is listed in Find a certified professional, on their profile page (off by default)."""

    listed = forms.BooleanField(
        label="List me in Find a certified professional", required=False,
        help_text="Anyone who searches by your exact last name (and, if they choose, your state) then sees your name, "
                  "your certifications and their status, and your city and state. Never your email, address or "
                  "member ID.",
    )
