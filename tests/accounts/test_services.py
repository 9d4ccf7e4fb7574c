import pytest
from django.core.management import CommandError, call_command

from acsm_portal.demo import DEMO_CERTIFICANT, DEMO_STAFF
from accounts.models import User
from accounts.services import AccountError, certificants_import

CSV = """email,first_name,last_name,member_id
ana@example.com,Ana,Silva,345678
not-an-email,Bad,Row,
ben@example.com,Ben,,
ANA@example.com,Ana,Again,
chloe@example.com,Chloé,Dupont,12345
zoë@example.com,Zoë,Ünal,
dee@example.com,Dee,Okafor,
"""


@pytest.mark.django_db(transaction=True)
class TestImport:
    def test_good_rows_kept_bad_rows_reported_by_line(self, worker_mail):
        report = certificants_import(text=CSV)
        assert report.created == ["ana@example.com", "dee@example.com"]
        assert report.existing == ["ana@example.com"]
        assert report.errors == [
            (3, "'not-an-email' is not a valid email address."),
            (4, "First and last name are both required."),
            (6, "Member ID '12345' is not six digits."),
            (7, "'zoë@example.com' is not a valid email address."),
        ]
        ana = User.objects.get(email="ana@example.com")
        assert (ana.first_name, ana.last_name, ana.member_id) == ("Ana", "Silva", "345678")
        assert not ana.has_usable_password()
        assert User.objects.count() == 2
        # A real worker emails each new certificant a set-password link.
        messages = worker_mail.wait_for(2)
        assert sorted(m["To"] for m in messages) == ["ana@example.com", "dee@example.com"]
        assert {m["Subject"] for m in messages} == {"Set your MyACSM password"}
        body = messages[0].get_payload(decode=True).decode()
        assert "http://127.0.0.1:8000/accounts/reset/" in body

    def test_is_idempotent_by_email(self, worker_mail):
        certificants_import(text=CSV)
        worker_mail.wait_for(2)
        report = certificants_import(text=CSV)
        assert report.created == []
        assert report.existing == ["ana@example.com", "ana@example.com", "dee@example.com"]
        assert User.objects.count() == 2
        assert len(worker_mail.wait_for(2)) == 2  # nobody emailed twice

    def test_taken_member_id_is_a_bad_row(self):
        certificants_import(text="email,first_name,last_name,member_id\nx@example.com,X,Y,555555\n")
        report = certificants_import(text="email,first_name,last_name,member_id\nz@example.com,Z,Q,555555\n")
        assert report.errors == [(2, "Member ID 555555 already belongs to someone else.")]

    def test_missing_columns(self):
        with pytest.raises(AccountError, match="The CSV header lacks: first_name, last_name."):
            certificants_import(text="email\nx@example.com\n")

    def test_command_reports_lines_and_fails_on_bad_rows(self, tmp_path, capsys):
        f = tmp_path / "people.csv"
        f.write_text(CSV, encoding="utf-8")
        with pytest.raises(CommandError, match=r"4 row\(s\) rejected"):
            call_command("import_certificants", str(f))
        out, err = capsys.readouterr()
        assert "2 created, 1 already present, 4 rejected" in out
        assert "line 3: 'not-an-email' is not a valid email address." in err
        assert User.objects.count() == 2

    def test_command_all_good(self, tmp_path, capsys):
        f = tmp_path / "people.csv"
        f.write_text("email,first_name,last_name\nfay@example.com,Fay,Wong\n", encoding="utf-8")
        call_command("import_certificants", str(f))
        assert "1 created, 0 already present, 0 rejected" in capsys.readouterr().out


@pytest.mark.django_db
def test_seed_demo_is_idempotent(client):
    call_command("seed_demo")
    call_command("seed_demo")
    assert User.objects.filter(email=DEMO_CERTIFICANT["email"]).count() == 1
    staff = User.objects.get(email=DEMO_STAFF["email"])
    assert staff.is_staff and staff.is_superuser
    response = client.post("/accounts/login/", {"username": DEMO_CERTIFICANT["email"],
                                                "password": DEMO_CERTIFICANT["password"]})
    assert response.status_code == 302
