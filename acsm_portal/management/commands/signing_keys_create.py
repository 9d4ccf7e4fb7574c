"""``manage.py signing_keys_create [--dir PATH] [--force]``: a development signing key and certificate."""

import os
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from acsm_portal import clock

COMMON_NAME = "MyACSM Certification (development)"
# Valid from well before the portal's date (tests move the clock back through a cycle) to well after it.
VALID_BEFORE = timedelta(days=5 * 366)
VALID_AFTER = timedelta(days=10 * 366)


class Command(BaseCommand):
    help = ("Create a development signing key (EC P-256) and a self-signed certificate for "
            f"“{COMMON_NAME}”, files readable by their owner only. With --dir, key.pem and cert.pem go to that "
            "folder; without, to SIGNING_KEY_FILE and SIGNING_CERT_FILE. Refuses to replace existing files "
            "without --force. Production uses the certifying body's own key and certificate instead.")

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="Write key.pem and cert.pem into this folder.")
        parser.add_argument("--force", action="store_true", help="Replace existing files.")

    def handle(self, *args, **options):
        if options["dir"]:
            folder = Path(options["dir"])
            key_path, cert_path = folder / "key.pem", folder / "cert.pem"
        else:
            key_path, cert_path = Path(settings.SIGNING_KEY_FILE), Path(settings.SIGNING_CERT_FILE)
        existing = [str(p) for p in (key_path, cert_path) if p.exists()]
        if existing and not options["force"]:
            raise CommandError(f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                               "pass --force to replace the signing key (what it signed will no longer check).")
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MyACSM Certification"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ])
        now = clock.now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - VALID_BEFORE).not_valid_after(now + VALID_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        self.stdout.write(f"Signing key: {key_path}\nCertificate: {cert_path} ({COMMON_NAME}, self-signed, "
                          f"valid until {certificate.not_valid_after_utc:%Y-%m-%d})")


def _write(path: Path, data: bytes) -> None:
    """``data`` to ``path``, created with mode 0600 (a replaced file too), its folder made 0700 where missing."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(data)
