import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User

PASSWORD = "correct-horse-battery"


def login(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


@pytest.mark.django_db
class TestLogin:
    def test_login_lands_on_myacsm(self, client, user):
        response = login(client, user.email, PASSWORD)
        assert response.status_code == 302
        assert response["Location"] == reverse("home")
        page = client.get(reverse("home"))
        assert page.status_code == 200
        html = page.content.decode()
        assert "<h1 class=\"h2 mb-4\">MyACSM</h1>" in html
        assert "Access Your Information" in html
        assert f'href="{reverse("dashboard")}">View CEC Dashboard and Report CECs</a>' in html

    def test_email_is_case_insensitive(self, client, user):
        response = login(client, user.email.upper(), PASSWORD)
        assert response.status_code == 302

    def test_wrong_password_keeps_email_and_says_why(self, client, user):
        response = login(client, user.email, "nope")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Please enter a correct email address and password." in html
        assert f'value="{user.email}"' in html
        assert "_auth_user_id" not in client.session

    def test_logout_is_post_only_and_ends_session(self, client, user):
        login(client, user.email, PASSWORD)
        assert client.get(reverse("logout")).status_code == 405
        response = client.post(reverse("logout"))
        assert response.status_code == 302
        assert response["Location"] == reverse("login")
        assert "_auth_user_id" not in client.session

    def test_lockout_after_five_failures(self, client, user):
        for _ in range(5):
            login(client, user.email, "wrong")
        response = login(client, user.email, PASSWORD)
        assert response.status_code == 429
        assert "Too many failed log-in attempts" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_lockout_is_per_account(self, client, user, other_user):
        for _ in range(5):
            login(client, user.email, "wrong")
        assert login(client, other_user.email, PASSWORD).status_code == 302


@pytest.mark.django_db
class TestLoginRequired:
    @pytest.mark.parametrize("name", ["home", "dashboard", "password_change"])
    def test_anonymous_is_sent_to_login(self, client, name):
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={url}"

    @pytest.mark.parametrize("name", ["login", "password_reset", "password_reset_done", "healthz"])
    def test_public_pages(self, client, name):
        assert client.get(reverse(name)).status_code == 200

    def test_staff_admin_needs_staff(self, user_client):
        response = user_client.get("/staff/")
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")


@pytest.mark.django_db
class TestPasswords:
    def test_reset_by_email_then_log_in(self, client, user):
        response = client.post(reverse("password_reset"), {"email": user.email})
        assert response.status_code == 302
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.subject == "Reset your MyACSM password"
        assert message.to == [user.email]
        link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)
        form_page = client.get(link, follow=True)
        assert "Set a new password" in form_page.content.decode()
        response = client.post(form_page.redirect_chain[-1][0],
                               {"new_password1": "a-new-long-secret-42", "new_password2": "a-new-long-secret-42"})
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.check_password("a-new-long-secret-42")
        assert login(client, user.email, "a-new-long-secret-42").status_code == 302

    def test_reset_for_unknown_email_sends_nothing(self, client):
        response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
        assert response.status_code == 302
        assert mail.outbox == []

    def test_change_password(self, user_client, user):
        response = user_client.post(reverse("password_change"), {
            "old_password": PASSWORD, "new_password1": "brand-new-secret-77", "new_password2": "brand-new-secret-77"})
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.check_password("brand-new-secret-77")

    def test_change_password_mismatch_keeps_page(self, user_client, user):
        response = user_client.post(reverse("password_change"), {
            "old_password": PASSWORD, "new_password1": "brand-new-secret-77", "new_password2": "other-secret-77"})
        assert response.status_code == 200
        assert "The two password fields didn’t match." in response.content.decode()
        user.refresh_from_db()
        assert user.check_password(PASSWORD)


@pytest.mark.django_db
def test_member_ids_are_unique_six_digits():
    users = [User.objects.create_user(email=f"m{i}@example.com", first_name="A", last_name="B") for i in range(50)]
    ids = {u.member_id for u in users}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[1-9]\d{5}", i) for i in ids)
    assert not users[0].has_usable_password()
