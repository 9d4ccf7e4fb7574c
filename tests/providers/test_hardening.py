"""What a careless client or a hostile file must not get through: the slash left off, JSON nested too deep, a
formula in a rejected row, a credit under audit retracted, a secret in a cookie."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from acsm_portal import clock

from audits.models import AuditCredit
from providers import roster
from providers.models import Completion
from providers.services import ProviderError, completion_retract
from tests.audits.helpers import audited
from tests.providers.test_api import URL, api, course, item, person, provider, token, traveller  # noqa: F401, F811
from tests.providers.test_services import BY, item as service_item, post as service_post

pytestmark = pytest.mark.django_db


def test_a_post_without_the_trailing_slash_is_taken_not_redirected(api, course, person):
    response = api.post(URL.rstrip("/"), item(person, "no-slash"), format="json")
    assert response.status_code == 201
    assert Completion.objects.get().external_id == "no-slash"


def test_json_nested_too_deep_is_a_400_in_json(api: APIClient):
    response = api.generic("POST", URL, "[" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - nested too deeply."}


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil.example\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
                                  "\tx", "\rx"])
def test_a_rejected_row_that_opens_like_a_formula_downloads_as_text(cell):
    text = roster.rejected_rows_csv(columns=("member_id", "last_name"), rows=[(2, [cell, "Lee"], "Bad")])
    line = text.splitlines()[1] if cell[0] not in "\t\r" else text.split("\n", 1)[1]
    assert line.startswith(("'" + cell[:1], "\"'" + cell[:1]))


def test_a_plain_cell_is_left_as_it_is():
    assert roster.spreadsheet_safe("Lee") == "Lee"
    day = clock.today().isoformat()
    assert roster.spreadsheet_safe(day) == day


def test_a_provider_credit_in_an_audit_cannot_be_retracted(provider, course, person):
    day = clock.today() - timedelta(days=1)
    casey = person
    completion = service_post(provider, [service_item(casey, course, day, "AUD-1")])[0].completion
    audit = audited(casey, "CPT")  # the renewal's credits, the provider's among them, are the audit's
    assert AuditCredit.objects.filter(audit=audit, cec_entry=completion.cec_entry).exists()
    with pytest.raises(ProviderError, match="part of an audit"):
        completion_retract(provider_id=provider.pk, external_id="AUD-1", reason="Wrong person", by=BY)
    completion.refresh_from_db()
    assert (completion.state, completion.cec_entry_id is not None) == ("accepted", True)
