"""Credits say who reported them, and the yearly caps the Active CECs box states come from the cap table."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from acsm_portal import clock
from cecs.models import CECEntry, YearlyCap
from certifications.selectors import CAPS_CACHE_KEY
from tests.factories import CECEntryFactory, UserFactory, certification_with_cycle

pytestmark = pytest.mark.django_db
SEED_CAPS = ("A maximum of 5 credits with the format of Teaching, 8 credits for Volunteering, and 5 for "
             "CPR/AED/First Aid will apply to your total credits above each year.")


def test_a_credit_staff_add_is_staff_sourced_and_the_certificant_cannot_change_it(client, user):
    certification_with_cycle(user, "CPT")
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    earned = clock.today().replace(day=1)
    response = client.post(reverse("admin:cecs_cecentry_add"), {
        "user": user.pk, "date_earned": earned.isoformat(), "units": "1.5", "credit_type": "ceu",
        "course_name": "Board-approved workshop", "provider": "ACSM", "format": "live"})
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = CECEntry.objects.get(user=user)
    assert (entry.source, entry.cecs, entry.date_reported) == ("staff", Decimal("15.00"), clock.today())

    client.force_login(user)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Board-approved workshop" in html
    assert reverse("cec_edit", args=[entry.pk]) not in html
    assert reverse("cec_delete", args=[entry.pk]) not in html
    response = client.post(reverse("cec_delete", args=[entry.pk]), follow=True)
    assert "Only credits you reported yourself can be changed; contact us about this one." in response.content.decode()
    assert CECEntry.objects.filter(pk=entry.pk).exists()


def test_staff_cannot_add_a_credit_of_no_units(client, user):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(reverse("admin:cecs_cecentry_add"), {
        "user": user.pk, "date_earned": clock.today().isoformat(), "units": "0", "credit_type": "cec",
        "course_name": "Nothing", "provider": "", "format": "live"})
    assert response.status_code == 200
    assert CECEntry.objects.count() == 0


def test_the_caps_note_follows_the_cap_table(client, user):
    certification_with_cycle(user, "CPT")
    CECEntryFactory(user=user)
    client.force_login(user)
    assert SEED_CAPS in client.get(reverse("dashboard")).content.decode()
    YearlyCap.objects.filter(format="volunteering").update(max_cecs=Decimal("10.5"))
    YearlyCap.objects.filter(format="teaching").delete()
    cache.delete(CAPS_CACHE_KEY)  # the caps are shared reference data, cached for a minute
    assert ("A maximum of 10.5 credits with the format of Volunteering, and 5 for CPR/AED/First Aid will apply to "
            "your total credits above each year.") in client.get(reverse("dashboard")).content.decode()
