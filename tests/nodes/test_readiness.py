"""The readiness check ``/readyz``: PostgreSQL, Redis and the default storage, each on its own, against the real
services; a failure is made by pointing one setting at a port nothing listens on (nothing shared is stopped)."""

import json

import pytest
from django.db import connection

from tests.smtp import free_port


def ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, json.loads(response.content)


@pytest.mark.django_db
def test_ready_with_postgres_redis_and_the_local_folder(client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    assert ready(client) == (200, {"postgres": "ok", "redis": "ok", "storage": "ok"})


@pytest.mark.django_db
def test_ready_with_the_bucket(client, s3_documents):
    assert ready(client) == (200, {"postgres": "ok", "redis": "ok", "storage": "ok"})
    assert s3_documents.keys() == []  # a look, nothing written


@pytest.mark.django_db
def test_redis_down(client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert ready(client) == (503, {"postgres": "ok", "redis": "down: ConnectionError", "storage": "ok"})


@pytest.mark.django_db
def test_storage_down_when_the_store_does_not_answer(client, settings, s3_documents):
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": {
        **options, "endpoint_url": f"http://127.0.0.1:{free_port()}"}}}
    assert ready(client) == (503, {"postgres": "ok", "redis": "ok", "storage": "down: EndpointConnectionError"})


@pytest.mark.django_db
def test_storage_down_when_the_bucket_is_missing(client, settings, s3_documents):
    options = settings.STORAGES["default"]["OPTIONS"]
    settings.STORAGES = {**settings.STORAGES, "default": {**settings.STORAGES["default"], "OPTIONS": {
        **options, "bucket_name": s3_documents.bucket + "-missing"}}}
    assert ready(client) == (503, {"postgres": "ok", "redis": "ok", "storage": "down: ClientError"})


@pytest.mark.django_db
def test_storage_down_when_the_local_folder_is_missing(client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "gone")}}}
    assert ready(client) == (503, {"postgres": "ok", "redis": "ok", "storage": "down: no folder"})


@pytest.mark.django_db(transaction=True)
def test_postgres_down(client, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())  # nothing listens there
    try:
        status, body = ready(client)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert (status, body) == (503, {"postgres": "down: OperationalError", "redis": "ok", "storage": "ok"})


@pytest.mark.django_db
def test_in_process_tasks_need_no_redis(client, settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    assert ready(client) == (200, {"postgres": "ok", "redis": "in-process", "storage": "ok"})
