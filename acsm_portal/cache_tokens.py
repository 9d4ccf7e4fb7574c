"""Tokens that tell a cached copy from a stale one, across processes.

A copy built from the database is stored with the token that was current
*before* the database was read. A change drops the token at once and again
after it commits; the next reader gets a new token, so a copy built from rows
older than the change (even one stored after the change committed) no longer
matches and is built again.
"""

import secrets

from django.core.cache import cache
from django.db import transaction

TOKEN_SECONDS = 24 * 60 * 60


def token_new(key: str) -> str:
    """A token for ``key``, which had none: ours, or the one another process stored first."""
    token = secrets.token_hex(8)
    if cache.add(key, token, TOKEN_SECONDS):
        return token
    return cache.get(key) or token


def tokens_drop(keys: list[str]) -> None:
    """Drop these keys now and again once the current transaction commits (until then, other
    processes still read the old rows and may store copies of them)."""
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))
