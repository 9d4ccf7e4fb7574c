from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction


def axes_username(request, credentials) -> str:
    """Lock out by the email as the person means it, whatever its case or spaces."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return username.strip().lower()


USER_CACHE_KEY, USER_CACHE_SECONDS = "accounts:user:{}", 5 * 60


class CachedModelBackend(ModelBackend):
    """Django's ModelBackend, with the user of each request read from the shared cache.

    Every request of a logged-in person needs their user row; the cache answers it
    without a database round trip. Saving or deleting a user forgets the cached
    copy (see ``user_forget``), so a deactivation or a password change counts from
    the next request; the copy also expires after five minutes.
    """

    def get_user(self, user_id):
        key = USER_CACHE_KEY.format(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None
            cache.set(key, user, USER_CACHE_SECONDS)
        return user if self.user_can_authenticate(user) else None


def user_forget(sender, instance, **kwargs) -> None:
    """Drop the cached copy of a saved or deleted user, now and again once the change is committed
    (a request between the two could otherwise cache the old row)."""
    key = USER_CACHE_KEY.format(instance.pk)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
