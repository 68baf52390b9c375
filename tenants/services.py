import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from tenants.keys import api_key_generate
from tenants.models import ApiKey, Membership, Role, Tenant, User
from tenants.selectors import tenant_owner_emails

logger = logging.getLogger("botyard.tenants")


@dataclass(frozen=True)
class IssuedApiKey:
    """A key together with its secret, which exists only here, in the response that hands it out."""

    api_key: ApiKey
    raw_key: str


@dataclass(frozen=True)
class TenantCreation:
    tenant: Tenant
    owner: User
    issued_key: IssuedApiKey


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "tenant"
    slug, suffix = base, 2
    while Tenant.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


def user_get_or_create(*, email: str, password: str | None = None) -> User:
    """The user with this e-mail address; a new one (unusable password unless given) when there is none."""
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    return user


def membership_grant(*, tenant: Tenant, user: User, role: Role) -> Membership:
    membership, created = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def tenant_create(
    *,
    name: str,
    owner_email: str,
    password: str | None = None,
    time_zone: str = "UTC",
    default_currency: str = "USD",
) -> TenantCreation:
    """A tenant, its owner (an existing user keeps their password) and a first API key."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A tenant needs a name."})
    tenant = Tenant(name=name, slug=_unique_slug(name), time_zone=time_zone, default_currency=default_currency)
    tenant.full_clean()
    tenant.save()
    owner = user_get_or_create(email=owner_email, password=password)
    membership_grant(tenant=tenant, user=owner, role=Role.OWNER)
    issued = api_key_create(tenant=tenant, name="Default key", created_by=owner)
    logger.info("tenant created", extra={"tenant": tenant.slug})
    return TenantCreation(tenant=tenant, owner=owner, issued_key=issued)


def api_key_create(*, tenant: Tenant, name: str, created_by: User | None = None) -> IssuedApiKey:
    material = api_key_generate()
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name.strip() or "API key",
        lookup_id=material.lookup_id,
        key_hash=material.key_hash,
        expires_at=timezone.now() + timedelta(days=settings.API_KEY_MAX_AGE_DAYS),
        created_by=created_by,
    )
    return IssuedApiKey(api_key=api_key, raw_key=material.raw_key)


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, rotated_by: User | None = None) -> IssuedApiKey:
    """A new key that works at once; the old one keeps working for the grace period, then expires."""
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    now = timezone.now()
    if locked.status_at(now) != ApiKey.Status.ACTIVE:
        raise ValidationError(f"Only an active key can be rotated; this one is {locked.status_at(now)}.")
    issued = api_key_create(tenant=locked.tenant, name=locked.name, created_by=rotated_by or locked.created_by)
    locked.status = ApiKey.Status.ROTATED
    locked.rotated_at = now
    locked.replaced_by = issued.api_key
    locked.expires_at = min(locked.expires_at, now + timedelta(hours=settings.API_KEY_ROTATION_GRACE_HOURS))
    locked.save(update_fields=["status", "rotated_at", "replaced_by", "expires_at"])
    logger.info("api key rotated", extra={"tenant_id": str(locked.tenant_id), "api_key": locked.prefix})
    return issued


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Dead immediately. Revoking twice changes nothing."""
    if api_key.status != ApiKey.Status.REVOKED:
        api_key.status = ApiKey.Status.REVOKED
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["status", "revoked_at"])
        logger.info("api key revoked", extra={"tenant_id": str(api_key.tenant_id), "api_key": api_key.prefix})
    return api_key


def api_key_mark_used(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Records use at most once per resolution window: a conditional UPDATE, and none at all while fresh."""
    now = now or timezone.now()
    stale_before = now - settings.API_KEY_LAST_USED_RESOLUTION
    if api_key.last_used_at is not None and api_key.last_used_at > stale_before:
        return
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=stale_before).update(last_used_at=now)
    api_key.last_used_at = now


@dataclass(frozen=True)
class KeyLifecycleReport:
    expired: int
    grace_ended: int
    notices_sent: int


def api_keys_lifecycle_run(*, now: datetime | None = None) -> KeyLifecycleReport:
    """The daily key job: record expiries, end grace periods, warn owners of keys about to expire.

    Idempotent: each transition is a conditional UPDATE and each notice is claimed before it is sent, so a second
    run (or two overlapping runs) changes nothing and e-mails nobody twice.
    """
    now = now or timezone.now()
    due = ApiKey.objects.filter(expires_at__lte=now)
    grace_ended = due.filter(status=ApiKey.Status.ROTATED).update(status=ApiKey.Status.EXPIRED)
    expired = due.filter(status=ApiKey.Status.ACTIVE).update(status=ApiKey.Status.EXPIRED)

    notices_sent = 0
    expiring = ApiKey.objects.filter(
        status=ApiKey.Status.ACTIVE,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=settings.API_KEY_EXPIRY_NOTICE_DAYS),
        expiry_notice_sent_at__isnull=True,
    ).select_related("tenant")
    for api_key in expiring.order_by("pk"):
        claimed = ApiKey.objects.filter(pk=api_key.pk, expiry_notice_sent_at__isnull=True).update(
            expiry_notice_sent_at=now
        )
        if not claimed:
            continue
        try:
            notices_sent += _api_key_expiry_notice_send(api_key=api_key)
        except Exception:
            # Give the claim back so tomorrow's run tries again rather than never warning anyone.
            ApiKey.objects.filter(pk=api_key.pk).update(expiry_notice_sent_at=None)
            logger.exception("api key expiry notice failed", extra={"api_key": api_key.prefix})

    report = KeyLifecycleReport(expired=expired, grace_ended=grace_ended, notices_sent=notices_sent)
    logger.info("api key lifecycle", extra=report.__dict__)
    return report


def _api_key_expiry_notice_send(*, api_key: ApiKey) -> int:
    recipients = tenant_owner_emails(tenant=api_key.tenant)
    if not recipients:
        return 0
    context = {
        "api_key": api_key,
        "tenant": api_key.tenant,
        "keys_url": f"{settings.PUBLIC_BASE_URL}/t/{api_key.tenant.slug}/",
    }
    send_mail(
        subject=f"[Botyard] API key “{api_key.name}” expires {api_key.expires_at:%Y-%m-%d}",
        message=render_to_string("tenants/email/api_key_expiring.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
    return 1
