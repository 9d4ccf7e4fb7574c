import secrets

from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Upper

from acsm_portal import clock

MEMBER_ID_VALIDATOR = RegexValidator(r"^\d{6}$", "A member ID is exactly six digits.")


def validate_time_zone(name: str) -> None:
    """Refuse anything but a zone a person may have (``clock.zone_names``: ``America/Los_Angeles``, ``UTC``).
    Raises ``ValidationError``."""
    if name and not clock.is_zone_name(name):
        raise ValidationError(f"“{name}” is not a time zone; choose one from the list (for example America/Chicago).")


def new_member_id() -> str:
    return f"{secrets.randbelow(900_000) + 100_000}"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        # A random member ID may collide; try again a few times on the unique index.
        for attempt in range(10):
            user = self.model(email=email, **extra)
            if not user.member_id:
                user.member_id = new_member_id()
            user.set_password(password)
            try:
                with transaction.atomic():
                    user.save(using=self._db)
                return user
            except IntegrityError:
                if "member_id" in extra or attempt == 9 or self.filter(email=email).exists():
                    raise
        raise RuntimeError("unreachable")

    def get_by_natural_key(self, email):
        # Emails are stored lower-cased (see _create_user and User.clean), so the unique index answers this.
        return self.get(email=email.strip().lower())

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("email address", unique=True)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    member_id = models.CharField(
        "member ID", max_length=6, unique=True, validators=[MEMBER_ID_VALIDATOR], editable=True
    )
    is_staff = models.BooleanField(default=False, help_text="Can log in to the staff admin.")
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=clock.now)
    time_zone = models.CharField(
        "time zone", max_length=64, blank=True, default="", validators=[validate_time_zone],
        help_text="An IANA name such as America/Los_Angeles. Deadlines end at 11:59 PM in this zone. "
                  "Blank: not set yet; the portal's zone until the person's browser or profile sets one.",
    )
    previous_time_zone = models.CharField(
        "previous time zone", max_length=64, blank=True, default="", editable=False,
        help_text="The zone before the last change; for two days after a change, a deadline that had passed in "
                  "it stays passed.",
    )
    time_zone_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    set_password_claimed_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When a worker took on the set-password email; another leaves it alone for a while.",
    )
    set_password_emailed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the set-password email was sent.",
    )
    reminders_enabled = models.BooleanField(
        "email reminders", default=True,
        help_text="Reminders about the cycle end, CPR/AED card expiry, the grace period and a lapse. Receipts, "
                  "decisions and audit notices are sent either way.",
    )
    reminders_changed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the person last turned reminders on or off.",
    )
    listed_in_find_a_pro = models.BooleanField(
        "listed in Find a certified professional", default=False,
        help_text="Whether the public search at /find/ may show the person (name, certifications, city and state, "
                  "status) to someone who types their exact last name. Off unless the person turns it on.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    class Meta:
        ordering = ["last_name", "first_name"]
        # Staff find people by last name in any case (the CPR review queue's search).
        indexes = [models.Index(Upper("last_name"), name="user_last_name_upper")]

    def __str__(self):
        return f"{self.get_full_name()} <{self.email}> ({self.member_id})"

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name


class BillingAddress(models.Model):
    """The certificant's billing address, prefilled at checkout."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="billing_address")
    line1 = models.CharField("address", max_length=200)
    line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField("state / province", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20)
    country = models.CharField(max_length=2, default="US", help_text="Two-letter country code.")

    class Meta:
        verbose_name_plural = "billing addresses"

    def __str__(self):
        return ", ".join(filter(None, [self.line1, self.line2, self.city, self.state, self.postal_code, self.country]))
