"""``manage.py documents_to_bucket [--source DIR] [--dry-run]``: move the stored documents of a node's local disk
into the S3 bucket the portal is now configured with (docs/deploy.md, "Moving local files into the bucket")."""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from acsm_portal import storage as stores
from acsm_portal.uploads import format_size


class Command(BaseCommand):
    help = ("Copy every stored document (CPR/AED card files, audit proof, certificate PDFs, previews) from the local "
            "folder (PRIVATE_MEDIA_ROOT, or --source) into the S3 bucket of the default storage (S3_BUCKET), under "
            "the same names, skipping those the bucket holds already with the same size and hash. Run it again "
            "after an interruption or a failure: it copies only what is still missing. Local files are left as "
            "they are. With --dry-run, only counts.")

    def add_arguments(self, parser):
        parser.add_argument("--source", type=Path,
                            help="The folder to copy from (default: PRIVATE_MEDIA_ROOT).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be copied; copy nothing.")

    def handle(self, *args, **options):
        storage = storages["default"]
        if not stores.is_bucket(storage):
            raise CommandError("The default storage is not an S3 bucket: set S3_BUCKET (and S3_ENDPOINT_URL, "
                               "S3_REGION and the keys as needed) to the bucket to copy into.")
        source = Path(options["source"] or settings.PRIVATE_MEDIA_ROOT)
        if not source.is_dir():
            raise CommandError(f"No folder {source} to copy from.")
        dry_run = options["dry_run"]
        verbose = options["verbosity"] >= 2

        if dry_run:
            said = {"copied": "to copy", "replaced": "to replace (the bucket's differs)",
                    "present": "already in the bucket"}
        else:
            said = {"copied": "copied", "replaced": "replaced (the bucket's differed)",
                    "present": "already in the bucket"}

        def on_file(name: str, outcome: str) -> None:
            if outcome.startswith("failed"):
                self.stderr.write(f"{name}: {outcome}")
            elif verbose:
                self.stdout.write(f"{name}: {said[outcome]}")

        report = stores.documents_copy(source=source, storage=storage, dry_run=dry_run, on_file=on_file)
        found = f"{report.found} file{'' if report.found == 1 else 's'} in {source}"
        if dry_run:
            self.stdout.write(
                f"Dry run, nothing copied. {found}: {report.copied} to copy and "
                f"{report.replaced} to replace ({format_size(report.copied_bytes)}), {report.present} already in "
                f"bucket {storage.bucket_name}, {len(report.failed)} failed."
            )
        else:
            self.stdout.write(
                f"{found}: {report.copied} copied and {report.replaced} replaced "
                f"({format_size(report.copied_bytes)}), {report.present} already in bucket {storage.bucket_name}, "
                f"{len(report.failed)} failed."
            )
        if report.failed:
            failed = len(report.failed)
            raise CommandError(f"{failed} file{' was' if failed == 1 else 's were'} not copied (listed above); run "
                               "the command again to copy what is missing.")
