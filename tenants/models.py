from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar, Self

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from timezone_field import TimeZoneField

from monetization.currencies import validate_currency
from tenants.ids import uuid7
from tenants.keys import KEY_PREFIX


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A person who logs in to the dashboard (tenant staff) or the admin (platform staff), by e-mail address."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@deconstructible
class PlaceholderValidator:
    """Text that may carry the named `{placeholders}` and nothing else in braces.

    The texts are sent to a whole group as they are, so a typo such as `{nmae}` is refused when it is saved rather
    than discovered in a member's chat.
    """

    def __init__(self, *allowed: str) -> None:
        self.allowed = allowed

    def __call__(self, value: str) -> None:
        allowed = ", ".join(f"{{{name}}}" for name in self.allowed)
        unknown = sorted({f"{{{name}}}" for name in _PLACEHOLDER.findall(value) if name not in self.allowed})
        if unknown:
            raise ValidationError(
                "Unknown placeholder %(unknown)s; this text may use %(allowed)s.",
                code="unknown_placeholder",
                params={"unknown": ", ".join(unknown), "allowed": allowed},
            )
        if "{" in _PLACEHOLDER.sub("", value) or "}" in _PLACEHOLDER.sub("", value):
            raise ValidationError(
                "A brace is not closed; placeholders are written %(allowed)s.",
                code="unmatched_brace",
                params={"allowed": allowed},
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlaceholderValidator) and other.allowed == self.allowed

    def __hash__(self) -> int:
        return hash(self.allowed)


def placeholders_fill(template: str, **values: str) -> str:
    """One pass over the template, so a value that itself contains braces (a member's name) is never re-expanded."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), template).strip()


# The wording bots used before tenants could change it; new tenants start from it.
DEFAULT_FALLBACK_REPLY = "Sorry, I don't know that one."
DEFAULT_OPTOUT_REPLY = "{name}, you're opted out: I won't keep your messages. Send {optin} to opt back in."
DEFAULT_OPTIN_REPLY = "Welcome back, {name}! Your messages count again."


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = TimeZoneField(default="UTC", use_pytz=False)
    default_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    ad_disclosure = models.CharField(max_length=40, default="#ad")
    default_fallback_reply = models.CharField(
        max_length=1000,
        blank=True,
        default=DEFAULT_FALLBACK_REPLY,
        validators=[PlaceholderValidator("name")],
        help_text="What a new bot answers to a command it does not know; empty: no answer.",
    )
    optout_reply = models.CharField(
        max_length=500,
        default=DEFAULT_OPTOUT_REPLY,
        validators=[PlaceholderValidator("name", "optin")],
        help_text="The reply to a member who opts out.",
    )
    optin_reply = models.CharField(
        max_length=500,
        default=DEFAULT_OPTIN_REPLY,
        validators=[PlaceholderValidator("name", "optout")],
        help_text="The reply to a member who opts back in.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def optout_reply_for(self, *, name: str, optin_command: str) -> str:
        return placeholders_fill(self.optout_reply, name=name, optin=optin_command)

    def optin_reply_for(self, *, name: str, optout_command: str) -> str:
        return placeholders_fill(self.optin_reply, name=name, optout=optout_command)


class TenantQuerySet(models.QuerySet[Any]):
    """Remembers which tenant it was scoped to, so the API and dashboard base classes can refuse unscoped queries."""

    scoped_tenant_id: Any = None

    def for_tenant(self, tenant: Tenant) -> Self:
        scoped = self.filter(tenant=tenant)
        scoped.scoped_tenant_id = tenant.pk
        return scoped

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]
        clone.scoped_tenant_id = self.scoped_tenant_id
        return clone  # type: ignore[no-any-return]


class TenantOwnedModel(models.Model):
    """Base of every row that belongs to one tenant."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst (read only)"


class Membership(TenantOwnedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_per_tenant")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"

    @property
    def can_write(self) -> bool:
        return self.role in (Role.OWNER, Role.ADMIN)

    def can_manage(self, role: str) -> bool:
        """Whether this member may invite, re-role or remove someone holding `role` (or grant it): owners manage
        everyone, admins manage admins and analysts, analysts nobody."""
        if self.role == Role.OWNER:
            return True
        return self.role == Role.ADMIN and role in (Role.ADMIN, Role.ANALYST)


class ApiKey(TenantOwnedModel):
    """An integrator's key. Only a hash of the secret is stored; `lookup_id` finds the row without it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ROTATED = "rotated", "Rotated (grace period)"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    name = models.CharField(max_length=100)
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    expiry_notice_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"]), models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}_{self.lookup_id}"

    def status_at(self, moment: datetime) -> str:
        """The status as of `moment`: time alone expires a key, before the rotation job has recorded it."""
        if self.status in (self.Status.ACTIVE, self.Status.ROTATED) and self.expires_at <= moment:
            return self.Status.EXPIRED
        return self.status

    @property
    def current_status(self) -> str:
        return self.status_at(timezone.now())

    def is_usable_at(self, moment: datetime) -> bool:
        return self.status_at(moment) in (self.Status.ACTIVE, self.Status.ROTATED)


class Invitation(TenantOwnedModel):
    """An e-mailed offer to join a tenant with a role. Only the SHA-256 of the link's token is stored."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired"

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "status", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.role} · {self.status}"

    def status_at(self, moment: datetime) -> str:
        """As with API keys, time alone expires an invitation; the row says so once something supersedes it."""
        if self.status == self.Status.PENDING and self.expires_at <= moment:
            return self.Status.EXPIRED
        return self.status

    @property
    def current_status(self) -> str:
        return self.status_at(timezone.now())
