from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone
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


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = TimeZoneField(default="UTC", use_pytz=False)
    default_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    ad_disclosure = models.CharField(max_length=40, default="#ad")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
