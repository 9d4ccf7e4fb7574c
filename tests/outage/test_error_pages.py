"""Errors are answered with the portal's own pages, not Django's bare ones; the 500 page needs no database."""

import pytest
from django.urls import reverse
from django.views.defaults import server_error


@pytest.mark.django_db
def test_a_missing_page_is_the_portals_404(user_client):
    response = user_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html
    assert 'href="/static/css/portal.css"' in html


@pytest.mark.django_db
def test_another_persons_certificate_answers_the_same_404(user_client):
    response = user_client.get(reverse("certificate_download", args=["CPT-0000-000000"]))
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_the_500_page_is_branded_and_reads_no_database(rf):
    # No django_db mark: any database access here raises, so rendering it proves it needs none.
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html and "Please try again in a minute." in html
