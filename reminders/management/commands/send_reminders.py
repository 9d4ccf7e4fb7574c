"""``manage.py send_reminders [--dry-run]``: the scheduler's hourly reminder job, by hand."""

from django.core.management.base import BaseCommand

from acsm_portal import clock
from acsm_portal.formats import format_date
from audits.services import audit_reminders_due, audit_reminders_queue
from reminders import services
from reminders.models import Reminder

KIND_LABELS = dict(Reminder.Kind.choices)


def why(planned: services.Planned) -> str:
    """Why a reminder is due, in a line: "cycle ending: 30 days before 12/31/Y (certification 12, cycle 40)"."""
    due = planned.due
    when = f"{due.offset} days before {format_date(due.about)}" if due.offset else f"after {format_date(due.about)}"
    return (f"{KIND_LABELS[due.kind].lower()}: {when} (certification {due.certification_id}, cycle {due.cycle_id}; "
            f"their date {format_date(planned.today)})")


class Command(BaseCommand):
    help = ("Make and queue the reminders due now for people in their morning (cycle ending, CPR/AED card expiring, "
            "grace period, lapsed) and the audit reminders; with --dry-run, print what would be sent to whom and why, "
            "and change nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would be sent; send and record nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        report = services.reminders_queue(dry_run=dry_run)
        zones = ", ".join(f"{name or 'portal zone'} {format_date(day)}" for name, day in sorted(report.zones.items()))
        self.stdout.write(f"Zones in their sending hours: {zones or 'none'}")
        if dry_run:
            for planned in report.planned:
                self.stdout.write(f"due for {planned.email}: {why(planned)}")
            for preview in services.reminders_preview(report.planned):
                self.stdout.write(f"would send to {preview.email}: \"{preview.subject}\"")
                for line in preview.lines:
                    self.stdout.write(f"    {line}")
            audits = audit_reminders_due()
            for audit, offset in audits:
                self.stdout.write(f"would send to {audit.user.email}: audit reminder: {offset} days before "
                                  f"{format_date(audit.deadline)} ({audit.certification.certification_type.code} "
                                  f"audit {audit.pk})")
            self.stdout.write(f"Dry run at {clock.now():%Y-%m-%d %H:%M} UTC: {report.people} people evaluated, "
                              f"{report.due} reminders and {len(audits)} audit reminders would be sent; nothing "
                              f"was recorded or sent.")
            return
        made = audit_reminders_queue()
        self.stdout.write(f"{report.people} people evaluated; {len(report.made)} reminders and {len(made)} audit "
                          f"reminders queued to be sent.")
