import pytest

from accounts.services import certificant_create


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_sends_set_password_email_through_redis(worker_mail):
    user = certificant_create(email="Nia@Example.com", first_name="Nia", last_name="Park")
    [message] = worker_mail.wait_for(1)
    assert message["To"] == "nia@example.com"
    assert message["Subject"] == "Set your MyACSM password"
    body = message.get_payload(decode=True).decode()
    assert f"member ID {user.member_id}" in body
    assert "/accounts/reset/" in body
