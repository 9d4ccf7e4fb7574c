from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from acsm_portal import clock
from cecs.models import CECEntry
from tests.factories import CECEntryFactory, certification_with_cycle

Y = clock.today().year


@pytest.fixture
def certified(user, open_cycle):
    return certification_with_cycle(user, "CPT", *open_cycle)


def form(**overrides):
    data = {
        "date_earned": "", "units": "3", "credit_type": "cec", "course_name": "Kettlebell Fundamentals",
        "provider": "ACSM", "format": "live",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestReport:
    def test_report_adds_entry_with_server_dates_and_redirects(self, user_client, user, certified, today):
        earned = today - timedelta(days=3)
        response = user_client.post(reverse("cec_report"), form(date_earned=earned.isoformat(), units="1.5",
                                                                 credit_type="ceu"))
        assert response.status_code == 302
        assert response["Location"] == reverse("dashboard")
        entry = CECEntry.objects.get(user=user)
        assert entry.cecs == Decimal("15.00")
        assert entry.units == Decimal("1.50")
        assert entry.credit_type == "ceu"
        assert entry.date_reported == today
        assert entry.source == "self"
        page = user_client.get(reverse("dashboard")).content.decode()
        assert "Reported 15 CECs for “Kettlebell Fundamentals”." in page
        assert "15 of 45" in page

    def test_date_reported_cannot_be_forged(self, user_client, user, certified, today):
        forged = date(today.year - 6, 1, 1).isoformat()
        user_client.post(reverse("cec_report"), form(date_earned=today.isoformat(), date_reported=forged))
        assert CECEntry.objects.get(user=user).date_reported == today

    @pytest.mark.parametrize(("overrides", "message"), [
        ({"units": "0"}, "Credits earned must be more than 0."),
        ({"units": "-2"}, "Credits earned must be more than 0."),
        ({"units": "1.3"}, "CECs are reported in quarter steps (0.25, 0.5, 0.75 …); 1.3 is not one."),
        ({"units": "0.13", "credit_type": "ceu"},
         "CECs are reported in quarter steps (0.25, 0.5, 0.75 …); 0.13 CEU makes 1.3 CECs, which is not one."),
        ({"units": "0.125"}, "Ensure that there are no more than 2 decimal places."),
        ({"units": "61"}, "One entry can hold at most 60 CECs (this is 61); report a longer course as several entries."),
        ({"units": "7", "credit_type": "ceu"},
         "One entry can hold at most 60 CECs (this is 70); report a longer course as several entries."),
        ({"units": "abc"}, "Enter a number such as 12.5."),
        ({"course_name": "   "}, "This field is required."),
        ({"course_name": "x" * 201}, "Ensure this value has at most 200 characters (it has 201)."),
        ({"format": "napping"}, "Select a valid choice. napping is not one of the available choices."),
        ({"credit_type": "points"}, "Select a valid choice. points is not one of the available choices."),
        ({"date_earned": f"31/02/{Y - 1}"}, "Enter a valid date."),
    ])
    def test_bad_input_is_refused_with_message_and_kept(self, user_client, user, certified, today, overrides,
                                                        message):
        data = form(**{"date_earned": today.isoformat(), **overrides})
        response = user_client.post(reverse("cec_report"), data)
        assert response.status_code == 200
        html = response.content.decode()
        assert message in html
        # What the person typed is still in the form.
        assert f'value="{data["date_earned"]}"' in html
        assert f'value="{data["units"]}"' in html
        if data["course_name"].strip():
            assert f'value="{data["course_name"]}"' in html
        assert CECEntry.objects.count() == 0

    def test_future_date_refused(self, user_client, certified, today):
        tomorrow = today + timedelta(days=1)
        response = user_client.post(reverse("cec_report"), form(date_earned=tomorrow.isoformat()))
        html = response.content.decode()
        assert f"Date Earned cannot be in the future (today is {today:%-m/%-d/%Y}, Eastern time)." in html
        assert f'value="{tomorrow.isoformat()}"' in html
        assert CECEntry.objects.count() == 0

    def test_date_before_every_cycle_names_the_cycle(self, user_client, certified, open_cycle):
        before = open_cycle[0] - timedelta(days=1)
        response = user_client.post(reverse("cec_report"), form(date_earned=before.isoformat()))
        start, end = open_cycle
        assert (f"Date Earned must fall inside your current certification cycle "
                f"({start:%-m/%-d/%Y} - {end:%-m/%-d/%Y}).") in response.content.decode()
        assert CECEntry.objects.count() == 0

    def test_no_certification_means_nothing_to_report_into(self, user_client, today):
        response = user_client.post(reverse("cec_report"), form(date_earned=today.isoformat()))
        assert "You have no open certification cycle to report CECs into." in response.content.decode()

    def test_markup_and_unicode_are_stored_and_shown_escaped(self, user_client, user, certified, today):
        name = "<script>alert('x')</script> Ünïcødé 运动 🏋️"
        user_client.post(reverse("cec_report"), form(date_earned=today.isoformat(), course_name=name))
        assert CECEntry.objects.get(user=user).course_name == name
        html = user_client.get(reverse("dashboard")).content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Ünïcødé 运动 🏋️" in html

    def test_get_shows_the_form(self, user_client, certified):
        html = user_client.get(reverse("cec_report")).content.decode()
        for label in ("Date Earned", "Credits earned", "Credit Type", "Course Name", "Format"):
            assert label in html


@pytest.mark.django_db
class TestEditDelete:
    def test_edit_own_entry(self, user_client, user, certified, today):
        entry = CECEntryFactory(user=user, date_earned=today, units=Decimal("2"), cecs=Decimal("2"))
        response = user_client.post(reverse("cec_edit", args=[entry.pk]),
                                    form(date_earned=today.isoformat(), units="4.25", course_name="Renamed"))
        assert response.status_code == 302
        entry.refresh_from_db()
        assert (entry.cecs, entry.course_name) == (Decimal("4.25"), "Renamed")

    def test_edit_with_bad_input_changes_nothing(self, user_client, user, certified, today):
        entry = CECEntryFactory(user=user, date_earned=today, units=Decimal("2"), cecs=Decimal("2"))
        original_name = entry.course_name
        response = user_client.post(reverse("cec_edit", args=[entry.pk]),
                                    form(date_earned=(today + timedelta(days=2)).isoformat(), course_name="Renamed"))
        assert response.status_code == 200
        assert 'value="Renamed"' in response.content.decode()
        entry.refresh_from_db()
        assert (entry.cecs, entry.course_name, entry.date_earned) == (Decimal("2.00"), original_name, today)

    def test_delete_needs_post_and_removes(self, user_client, user, certified, today):
        entry = CECEntryFactory(user=user, date_earned=today)
        confirm = user_client.get(reverse("cec_delete", args=[entry.pk]))
        assert "Delete this CEC?" in confirm.content.decode()
        assert CECEntry.objects.filter(pk=entry.pk).exists()
        response = user_client.post(reverse("cec_delete", args=[entry.pk]))
        assert response.status_code == 302
        assert not CECEntry.objects.filter(pk=entry.pk).exists()

    @pytest.mark.parametrize("name", ["cec_edit", "cec_delete"])
    @pytest.mark.parametrize("method", ["get", "post"])
    def test_another_persons_entry_is_404(self, user_client, other_user, today, name, method):
        entry = CECEntryFactory(user=other_user, date_earned=today)
        original_name = entry.course_name
        response = getattr(user_client, method)(reverse(name, args=[entry.pk]), form(date_earned=today.isoformat()))
        assert response.status_code == 404
        entry.refresh_from_db()
        assert entry.course_name == original_name

    def test_provider_reported_entries_are_locked(self, user_client, user, certified, today):
        entry = CECEntryFactory(user=user, date_earned=today, source="provider")
        response = user_client.post(reverse("cec_delete", args=[entry.pk]), follow=True)
        assert "Only credits you reported yourself can be changed; contact us about this one." in \
            response.content.decode()
        assert CECEntry.objects.filter(pk=entry.pk).exists()

    def test_entries_of_a_lapsed_cycle_are_locked(self, user_client, user, today):
        start, end = date(today.year - 5, 1, 1), date(today.year - 2, 12, 31)
        certification_with_cycle(user, "CPT", start, end)
        entry = CECEntryFactory(user=user, date_earned=start)
        response = user_client.post(reverse("cec_delete", args=[entry.pk]), follow=True)
        assert "This credit belongs to a closed cycle and can no longer be changed." in response.content.decode()
        assert CECEntry.objects.filter(pk=entry.pk).exists()
