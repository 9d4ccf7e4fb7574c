from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.services import AccountError, certificants_import


class Command(BaseCommand):
    help = (
        "Create certificants from a CSV file with columns email, first_name, last_name "
        "and optionally member_id. Known emails are skipped; each new person is emailed "
        "a link to set a password. Bad rows are reported by line number; good rows are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("csv_file", type=Path)

    def handle(self, *args, csv_file: Path, **options):
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {csv_file}: {exc}") from exc
        try:
            report = certificants_import(text=text)
        except AccountError as exc:
            raise CommandError(str(exc)) from exc
        for line, message in report.errors:
            self.stderr.write(f"line {line}: {message}")
        self.stdout.write(
            f"{len(report.created)} created, {len(report.existing)} already present, {len(report.errors)} rejected"
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} row(s) rejected; the other rows were imported.", returncode=2)
