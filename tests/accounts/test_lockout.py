"""Password spraying: one password tried over many accounts from one address is locked out too."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"
SPRAYER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"


def login(client, email, password, address):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address)


def locked_out(response) -> bool:
    return response.status_code == 429 and "Too many failed log-in attempts" in response.content.decode()


@pytest.mark.django_db
class TestAddressLockout:
    def test_twenty_failures_over_twenty_accounts_lock_the_address(self, settings):
        assert settings.AXES_FAILURE_LIMIT == 5 and settings.AXES_ADDRESS_FAILURE_LIMIT == 20
        targets = UserFactory.create_batch(20)
        client = Client()
        for number, target in enumerate(targets[:19], start=1):
            response = login(client, target.email, "Summer2024!", SPRAYER)
            assert response.status_code == 200 and not locked_out(response), number  # form shown again
        assert locked_out(login(client, targets[19].email, "Summer2024!", SPRAYER))

        # The 21st attempt, with another account's right password, is refused too.
        victim = UserFactory()
        response = login(client, victim.email, PASSWORD, SPRAYER)
        assert locked_out(response)
        assert "_auth_user_id" not in client.session

        # Someone at another address still logs in to that account.
        other = Client()
        assert login(other, victim.email, PASSWORD, ELSEWHERE).status_code == 302
        assert "_auth_user_id" in other.session

    def test_logging_in_to_ones_own_account_does_not_clear_a_spray(self):
        own = UserFactory()
        targets = UserFactory.create_batch(20)
        client = Client()
        for target in targets[:10]:
            login(client, target.email, "Summer2024!", SPRAYER)
        assert login(client, own.email, PASSWORD, SPRAYER).status_code == 302
        client.post(reverse("logout"), REMOTE_ADDR=SPRAYER)
        for target in targets[10:19]:
            assert not locked_out(login(client, target.email, "Summer2024!", SPRAYER))
        assert locked_out(login(client, targets[19].email, "Summer2024!", SPRAYER))

    def test_a_few_mistakes_by_different_people_behind_one_address_do_not_lock_it(self):
        people = UserFactory.create_batch(6)
        client = Client()
        for person in people:
            for _ in range(3):  # under the per-account limit each
                assert not locked_out(login(client, person.email, "typo", SPRAYER))
        # 18 failures from the address: under 20, so everyone there still logs in.
        assert login(client, people[0].email, PASSWORD, SPRAYER).status_code == 302

    def test_the_per_account_limit_is_still_five(self):
        person = UserFactory()
        client = Client()
        for _ in range(4):
            assert not locked_out(login(client, person.email, "wrong", SPRAYER))
        assert locked_out(login(client, person.email, "wrong", SPRAYER))
        assert locked_out(login(client, person.email, PASSWORD, SPRAYER))
        # The same account from another address is not locked by that pair.
        assert login(Client(), person.email, PASSWORD, ELSEWHERE).status_code == 302

    def test_the_address_limit_can_be_turned_off(self, settings):
        settings.AXES_ADDRESS_FAILURE_LIMIT = 0
        client = Client()
        for target in UserFactory.create_batch(21):
            assert not locked_out(login(client, target.email, "Summer2024!", SPRAYER))
