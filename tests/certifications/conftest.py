import pytest


@pytest.fixture
def decision_emails(monkeypatch):
    """The CPR decision emails queued for the worker (card ids), once their transactions commit."""
    from certifications.tasks import send_cpr_decision_email

    queued = []
    monkeypatch.setattr(send_cpr_decision_email, "apply_async", lambda args, **options: queued.extend(args))
    return queued
