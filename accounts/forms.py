from django import forms
from django.conf import settings

from acsm_portal import clock

# The zones most certificants live in come first in the list; every IANA zone follows.
COMMON_ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Toronto", "America/Vancouver",
]


def time_zone_choices() -> list:
    """Select options: the common North American zones by their names, then every IANA zone."""
    common = [(name, f"{clock.zone_label(name)} ({name})") for name in COMMON_ZONES if clock.is_zone_name(name)]
    rest = [(name, name.replace("_", " ")) for name in sorted(clock.zone_names() - set(COMMON_ZONES))
            if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))] + [("UTC", "UTC")]
    return [("", f"The portal's time ({clock.zone_label(settings.TIME_ZONE)})"),
            ("Common", common), ("All time zones", rest)]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone", required=False,
        help_text="Your deadlines (cycle end, grace period, CPR card expiry) end at 11:59 PM in this zone.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
