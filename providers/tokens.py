"""Provider API tokens: issued (the plain token returned once, only its hash kept) and found again from what a
client sends. The admin and ``manage.py create_provider_token`` both issue through ``provider_token_issue``."""

import logging
from datetime import datetime

from .models import Provider, ProviderToken
from .services import ProviderError

log = logging.getLogger(__name__)

NAME_MAX = ProviderToken._meta.get_field("name").max_length


def provider_token_issue(*, token: ProviderToken) -> str:
    """Give the unsaved ``token`` (its provider and name set, an expiry if any) a new key and save it.

    Returns the plain token (``<prefix>.<secret>``, 41 characters): the only time it exists outside the client,
    since the row keeps its prefix (also its id) and a SHA-512 hash. Logs the prefix, never the token. Raises
    ``ProviderError`` for a token already saved or a name that is blank or longer than 50 characters."""
    if not token._state.adding:
        raise ProviderError("This token was issued already; issue a new one.")
    token.name = " ".join((token.name or "").split())
    if not token.name:
        raise ProviderError("Name the token (such as the system that will use it).", field="name")
    if len(token.name) > NAME_MAX:
        raise ProviderError(f"The name is at most {NAME_MAX} characters.", field="name")
    key = ProviderToken.objects.assign_key(token)
    # The library makes the row's id "<prefix>.<hash>"; the prefix alone is as unique, and keeps the hash out of
    # every admin URL and page.
    token.id = token.prefix
    token.save(force_insert=True)
    log.info("API token %s (%s) issued for provider %s", token.prefix, token.name, token.provider.number)
    return key


def provider_token_create(*, provider_number: str, name: str, expiry_date: datetime | None = None
                          ) -> tuple[ProviderToken, str]:
    """A new token for the provider numbered ``provider_number`` (such as "P-0001"): the saved token and the plain
    token, to show once (``provider_token_issue``). Raises ``ProviderError`` for an unknown provider number or a bad
    name. An inactive provider's token is issued but refused by the API until the provider is active again."""
    provider = Provider.objects.filter(number=(provider_number or "").strip()).first()
    if provider is None:
        raise ProviderError(f"No provider is numbered {provider_number!r}.", field="provider")
    token = ProviderToken(provider=provider, name=name, expiry_date=expiry_date)
    return token, provider_token_issue(token=token)


def provider_token_find(key: str) -> ProviderToken | None:
    """The usable token whose plain value is ``key`` (with its provider loaded), or None: unknown, malformed,
    revoked or expired all answer None. One query, by the key's prefix; the hash is compared in constant time."""
    prefix, dot, secret = (key or "").partition(".")
    if not dot or not prefix or not secret:
        return None
    token = (ProviderToken.objects.get_usable_keys().select_related("provider")
             .filter(prefix=prefix).first())
    if token is None or token.has_expired or not token.is_valid(key):
        return None
    return token
