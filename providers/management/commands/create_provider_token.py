"""``manage.py create_provider_token --provider P-0001 [--name "LMS"]``: a new API token for a provider, printed
once, alone on stdout's last line (only its hash is kept)."""

from django.core.management.base import BaseCommand, CommandError

from providers.services import ProviderError
from providers.tokens import provider_token_create


class Command(BaseCommand):
    help = "Make an API token for a provider and print it (once: only its hash is kept)."

    def add_arguments(self, parser):
        parser.add_argument("--provider", required=True, help="The provider's number, such as P-0001.")
        parser.add_argument("--name", default="API token", help="What the token is for (up to 50 characters).")

    def handle(self, *args, provider, name, **options):
        try:
            token, key = provider_token_create(provider_number=provider, name=name)
        except ProviderError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Token {token.name!r} (prefix {token.prefix}) for {token.provider}. It is shown this once: "
                          "store it now.")
        if not token.provider.active:
            self.stdout.write("The provider is not active: the API refuses the token until it is.")
        self.stdout.write(key)
