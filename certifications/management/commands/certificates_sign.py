"""``manage.py certificates_sign [--dry-run]``: render again every stored certificate PDF made before certificates
were signed (and carried their QR code)."""

from django.core.management.base import BaseCommand

from certifications.certificates import certificate_rerender, certificates_unsigned


class Command(BaseCommand):
    help = ("Render again, signed and with its QR code, every stored certificate PDF that carries no signature "
            "(made before signing). Idempotent: a second run finds none. --dry-run lists them only.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List the unsigned certificates; change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        done = 0
        for certificate_id in certificates_unsigned():
            if dry_run:
                self.stdout.write(f"unsigned: certificate {certificate_id}")
            else:
                certificate = certificate_rerender(certificate_id=certificate_id)
                self.stdout.write(f"signed: {certificate.number}")
            done += 1
        self.stdout.write(f"{done} certificate(s) {'to render again' if dry_run else 'rendered again, signed'}.")
