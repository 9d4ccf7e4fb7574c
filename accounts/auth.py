from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

from acsm_portal.cache_tokens import token_new, tokens_drop


def axes_username(request, credentials) -> str:
    """Lock out by the email as the person means it, whatever its case or spaces."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return username.strip().lower()


USER_CACHE_KEY, USER_TOKEN_KEY, USER_CACHE_SECONDS = "accounts:user:{}", "accounts:user-token:{}", 5 * 60


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, with the user of each request read from the shared cache.

    Every request of a logged-in person needs their user row; the cache answers it
    without a database round trip. The copy is stored with the user's token, read
    before the row (``acsm_portal.cache_tokens``): saving or deleting a user drops
    the token at once and after the commit (see ``user_forget``), so a deactivation
    or a password change counts from the next request, even when another request
    read the row just before the change and stores it just after. The copy also
    expires after five minutes.
    """

    def get_user(self, user_id):
        key, token_key = USER_CACHE_KEY.format(user_id), USER_TOKEN_KEY.format(user_id)
        found = cache.get_many([token_key, key])
        token = found.get(token_key) or token_new(token_key)
        stored = found.get(key)
        if stored is not None and stored[0] == token:
            user = stored[1]
        else:
            user = super().get_user(user_id)
            if user is None:
                return None
            cache.set(key, (token, user), USER_CACHE_SECONDS)
        return user if self.user_can_authenticate(user) else None


def user_forget(sender, instance, **kwargs) -> None:
    """Drop the cached copy of a saved or deleted user and its token, now and again once the change is
    committed."""
    tokens_drop([USER_TOKEN_KEY.format(instance.pk), USER_CACHE_KEY.format(instance.pk)])
