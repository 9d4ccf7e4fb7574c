"""Housekeeping: CPR/AED drafts nobody touched for 7 days are removed with their stored files."""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from acsm_portal import clock
from certifications.cpr import services
from certifications.cpr.services import cpr_drafts_abandoned_remove, cpr_upload_add_file, cpr_upload_submit
from certifications.models import CprUpload, CprUploadFile
from certifications.tasks import cpr_drafts_abandoned_remove_task
from tests.factories import UserFactory, certification_with_cycle
from tests.waits import PATIENCE

from .cpr_helpers import details, png_bytes, submitted

PRIVATE_ROOT = Path(settings.STORAGES["default"]["OPTIONS"]["location"])


@pytest.fixture
def now():
    """The clock stopped at its current instant for the whole test."""
    moment = clock.now()
    with time_machine.travel(moment, tick=False):
        yield moment


def new_certification(code="CPT"):
    return certification_with_cycle(UserFactory(), code)


def add_files(certification, *, at, seeds) -> list[CprUploadFile]:
    """Files (PNGs of ``seeds``) added through the service at the instant ``at`` to the certification's draft."""
    with time_machine.travel(at, tick=False):
        return [cpr_upload_add_file(certification=certification, user=certification.user, name=f"card-{seed}.png",
                                    data=png_bytes(seed=seed)) for seed in seeds]


def draft_made(*, at, files=2, code="CPT", certification=None) -> tuple[CprUpload, list[str]]:
    """A draft started at ``at`` holding ``files`` files, and the storage names of those files."""
    stored = add_files(certification or new_certification(code), at=at, seeds=range(1, files + 1))
    return stored[0].upload, [s.file.name for s in stored]


def on_disk(names) -> list[bool]:
    return [(PRIVATE_ROOT / name).is_file() for name in names]


def remove(capture) -> tuple[list[int], int]:
    """One run, its after-commit file deletions run: the ids it removed and how many callbacks it left."""
    with capture(execute=True) as callbacks:
        removed = cpr_drafts_abandoned_remove()
    return removed, len(callbacks)


@pytest.mark.django_db
class TestAbandonedDrafts:
    @pytest.mark.parametrize(("age", "kept"), [
        (timedelta(days=6), True),
        (timedelta(days=7), True),  # exactly seven days: not older yet
        (timedelta(days=7, seconds=1), False),
        (timedelta(days=8), False),
    ])
    def test_a_draft_goes_with_its_files_once_untouched_for_more_than_7_days(
            self, now, age, kept, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - age)
        assert on_disk(names) == [True, True]
        removed, _ = remove(django_capture_on_commit_callbacks)
        assert removed == ([] if kept else [draft.pk])
        assert CprUpload.objects.filter(pk=draft.pk).exists() is kept
        assert CprUploadFile.objects.filter(upload_id=draft.pk).count() == (2 if kept else 0)
        assert on_disk(names) == [kept, kept]

    def test_only_the_old_drafts_go_and_their_ids_come_back_in_order(self, now, django_capture_on_commit_callbacks):
        old_a, old_a_names = draft_made(at=now - timedelta(days=8))
        young, young_names = draft_made(at=now - timedelta(days=6))
        old_b, old_b_names = draft_made(at=now - timedelta(days=30), files=1)
        removed, callbacks = remove(django_capture_on_commit_callbacks)
        assert removed == [old_a.pk, old_b.pk]
        assert callbacks == 1  # one batch, one deletion of its files after the commit
        assert list(CprUpload.objects.values_list("pk", flat=True)) == [young.pk]
        assert sorted(CprUploadFile.objects.values_list("file", flat=True)) == sorted(young_names)
        assert on_disk(old_a_names + old_b_names + young_names) == [False, False, False, True, True]

    def test_a_draft_whose_newest_file_was_added_2_days_ago_stays(self, now, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=9))
        newest = add_files(draft.certification, at=now - timedelta(days=2), seeds=[7])[0]
        assert newest.upload_id == draft.pk
        removed, callbacks = remove(django_capture_on_commit_callbacks)
        assert (removed, callbacks) == ([], 0)
        assert CprUpload.objects.get(pk=draft.pk).state == CprUpload.State.DRAFT
        assert CprUploadFile.objects.filter(upload=draft).count() == 3
        assert on_disk([*names, newest.file.name]) == [True, True, True]

    @pytest.mark.parametrize(("age", "kept"), [
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
        (timedelta(days=8), False),
    ])
    def test_the_newest_file_dates_the_draft(self, now, age, kept, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=20))
        newest = add_files(draft.certification, at=now - age, seeds=[7])[0]
        assert remove(django_capture_on_commit_callbacks)[0] == ([] if kept else [draft.pk])
        assert on_disk([*names, newest.file.name]) == [kept] * 3

    def test_a_draft_left_with_no_file_goes_too(self, now, django_capture_on_commit_callbacks):
        certification = new_certification()
        with time_machine.travel(now - timedelta(days=8), tick=False):
            draft = CprUpload.objects.create(certification=certification, cycle=certification.cycles.get())
        assert remove(django_capture_on_commit_callbacks) == ([draft.pk], 0)
        assert not CprUpload.objects.exists()

    @pytest.mark.parametrize("state", ["pending", "approved", "rejected"])
    @pytest.mark.parametrize("age", [timedelta(days=8), timedelta(days=400)])
    def test_a_submitted_card_of_any_age_stays_with_its_files(self, now, state, age, decision_emails,
                                                              django_capture_on_commit_callbacks):
        certification = new_certification()
        with time_machine.travel(now - age, tick=False):
            card = submitted(certification, state=state, files=2)
        card_names = list(card.files.values_list("file", flat=True))
        # The same certification's own abandoned draft, started after the card was submitted, goes alone.
        draft, draft_names = draft_made(at=now - timedelta(days=8), certification=certification)
        assert draft.pk != card.pk
        removed, _ = remove(django_capture_on_commit_callbacks)
        assert removed == [draft.pk]
        card = CprUpload.objects.get(pk=card.pk)
        assert card.state == state
        assert sorted(card.files.values_list("file", flat=True)) == sorted(card_names)
        assert on_disk(card_names) == [True, True]
        assert on_disk(draft_names) == [False, False]

    def test_running_twice_is_a_no_op(self, now, django_capture_on_commit_callbacks):
        old, old_names = draft_made(at=now - timedelta(days=8))
        young, young_names = draft_made(at=now - timedelta(days=1))
        assert remove(django_capture_on_commit_callbacks) == ([old.pk], 1)
        assert remove(django_capture_on_commit_callbacks) == ([], 0)
        assert list(CprUpload.objects.values_list("pk", flat=True)) == [young.pk]
        assert CprUploadFile.objects.filter(upload=young).count() == 2
        assert on_disk(old_names + young_names) == [False, False, True, True]

    def test_a_file_already_missing_from_the_storage_is_no_error(self, now, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=8), files=3)
        (PRIVATE_ROOT / names[1]).unlink()
        assert remove(django_capture_on_commit_callbacks) == ([draft.pk], 1)
        assert not CprUploadFile.objects.exists()
        assert on_disk(names) == [False, False, False]

    def test_a_file_the_storage_refuses_to_delete_is_logged_and_the_others_still_go(
            self, now, monkeypatch, caplog, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=8), files=3)
        real_delete = services.default_storage.delete

        def delete(name):
            if name == names[0]:
                raise PermissionError(13, "Permission denied", name)
            real_delete(name)

        monkeypatch.setattr(services.default_storage, "delete", delete)
        with caplog.at_level(logging.WARNING, logger="certifications.cpr.services"):
            assert remove(django_capture_on_commit_callbacks) == ([draft.pk], 1)
        assert not CprUpload.objects.exists()
        assert on_disk(names) == [True, False, False]
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
            f"Could not delete the stored file {names[0]} of an abandoned CPR/AED draft"]

    def test_the_files_are_deleted_only_after_the_commit(self, now, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=8))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert cpr_drafts_abandoned_remove() == [draft.pk]
        assert not CprUpload.objects.filter(pk=draft.pk).exists()
        assert on_disk(names) == [True, True]  # a rolled-back run would have lost nothing
        assert len(callbacks) == 1
        callbacks[0]()
        assert on_disk(names) == [False, False]

    def test_drafts_are_taken_in_batches(self, now, monkeypatch, django_capture_on_commit_callbacks):
        monkeypatch.setattr(services, "ABANDONED_DRAFTS_BATCH", 2)
        old = [draft_made(at=now - timedelta(days=8 + n), files=1) for n in range(5)]
        young, _ = draft_made(at=now - timedelta(days=3), files=1)
        with CaptureQueriesContext(connection) as queries:
            removed, callbacks = remove(django_capture_on_commit_callbacks)
        assert removed == [draft.pk for draft, _ in old]
        assert callbacks == 3  # 2 + 2 + 1, each batch's files after its own commit
        locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
        assert len(locking) == 3
        assert all("LIMIT 2" in sql for sql in locking)
        assert list(CprUpload.objects.values_list("pk", flat=True)) == [young.pk]
        assert on_disk([names[0] for _, names in old]) == [False] * 5

    def test_a_run_is_logged(self, now, caplog, django_capture_on_commit_callbacks):
        draft, _ = draft_made(at=now - timedelta(days=8))
        before = (now - timedelta(days=7)).isoformat()
        with caplog.at_level(logging.INFO, logger="certifications.cpr.services"):
            remove(django_capture_on_commit_callbacks)
        assert [r.getMessage() for r in caplog.records if r.name == "certifications.cpr.services"] == [
            f"Removed 1 abandoned CPR/AED draft(s) with 2 file(s), untouched since {before}: ids [{draft.pk}]",
            f"Removed 1 abandoned CPR/AED draft(s) in all, untouched since {before}",
        ]

    def test_the_task_runs_the_service_and_is_acknowledged_late(self, now, django_capture_on_commit_callbacks):
        draft, names = draft_made(at=now - timedelta(days=8))
        assert cpr_drafts_abandoned_remove_task.acks_late is True
        assert cpr_drafts_abandoned_remove_task.name == "certifications.tasks.cpr_drafts_abandoned_remove_task"
        with django_capture_on_commit_callbacks(execute=True):
            assert cpr_drafts_abandoned_remove_task.apply().get() == [draft.pk]
        assert not CprUpload.objects.exists()
        assert on_disk(names) == [False, False]


@pytest.mark.django_db(transaction=True)
def test_a_draft_being_submitted_right_now_is_skipped_not_waited_on_and_the_submit_wins(now):
    """The certificant's Submit holds the draft's row lock (as ``cpr_upload_submit`` takes it) while the cleanup
    runs in another connection: the cleanup skips that draft at once, removes the others, and the Submit
    commits the card with its files."""
    busy, busy_names = draft_made(at=now - timedelta(days=8))
    idle, idle_names = draft_made(at=now - timedelta(days=8))
    certification = busy.certification

    def cleanup() -> list[int]:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '5s'")  # a run that waited on the lock would fail here
            return cpr_drafts_abandoned_remove()
        finally:
            connections.close_all()

    with transaction.atomic():
        assert CprUpload.objects.select_for_update().get(pk=busy.pk).state == CprUpload.State.DRAFT
        with ThreadPoolExecutor(max_workers=1) as pool:
            removed = pool.submit(cleanup).result(timeout=PATIENCE)
        assert removed == [idle.pk]
        sent = cpr_upload_submit(certification=certification, user=certification.user, details=details(),
                                 today=clock.today_for(certification.user))

    assert sent.pk == busy.pk
    card = CprUpload.objects.get(pk=busy.pk)
    assert card.state == CprUpload.State.PENDING
    assert sorted(card.files.values_list("file", flat=True)) == sorted(busy_names)
    assert on_disk(busy_names) == [True, True]
    assert not CprUpload.objects.filter(pk=idle.pk).exists()
    assert on_disk(idle_names) == [False, False]  # committed in the other connection: deleted there after commit
    assert cpr_drafts_abandoned_remove() == []  # submitted now: never the cleanup's
    assert CprUpload.objects.get(pk=busy.pk).state == CprUpload.State.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_draft_locked_elsewhere_is_left_for_the_next_run(now):
    """A draft held by another transaction (the certificant adding a file, say) is skipped; once that transaction
    ends with nothing changed, the next run removes it."""
    held, names = draft_made(at=now - timedelta(days=8))

    def cleanup() -> list[int]:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '5s'")
            return cpr_drafts_abandoned_remove()
        finally:
            connections.close_all()

    with transaction.atomic():
        CprUpload.objects.select_for_update().get(pk=held.pk)
        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(cleanup).result(timeout=PATIENCE) == []
    assert CprUpload.objects.filter(pk=held.pk).exists()
    assert on_disk(names) == [True, True]
    assert cpr_drafts_abandoned_remove() == [held.pk]
    assert not CprUpload.objects.exists()
    assert on_disk(names) == [False, False]
