import json

import pytest
from django.db import connection
from django.test import override_settings


def health(client):
    response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
def test_up_with_real_postgres_and_redis(client):
    assert health(client) == (200, {"status": "ok", "database": "ok", "broker": "ok"})


@pytest.mark.django_db
def test_broker_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    status, body = health(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("down: ")


@pytest.mark.django_db(transaction=True)
def test_database_down(client):
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # nothing listens there
    try:
        status, body = health(client)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert status == 503
    assert body["database"] == "down: OperationalError"
    assert body["broker"] == "ok"


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
@pytest.mark.django_db
def test_in_process_tasks_count_as_healthy(client):
    assert health(client) == (200, {"status": "ok", "database": "ok", "broker": "in-process"})
