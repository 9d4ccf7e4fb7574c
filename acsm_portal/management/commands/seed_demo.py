from django.core.management.base import BaseCommand

from acsm_portal.demo import demo_seed


class Command(BaseCommand):
    help = "Create (or bring back to shape) the demo certificant and staff user. Safe to run again."

    def handle(self, *args, **options):
        for line in demo_seed():
            self.stdout.write(line)
