import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from tenants.keys import api_key_generate
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, User
from tenants.selectors import tenant_owner_emails, user_get_by_email
from tenants.url_tokens import url_token_hash, url_token_new

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
        "keys_url": settings.PUBLIC_BASE_URL + reverse("manage:api-keys", kwargs={"tenant_slug": api_key.tenant.slug}),
    }
    send_mail(
        subject=f"[Botyard] API key “{api_key.name}” expires {api_key.expires_at:%Y-%m-%d}",
        message=render_to_string("tenants/email/api_key_expiring.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
    return 1


# --- Team: invitations and roles -------------------------------------------------------------------------------------

INVITATION_LIFETIME = timedelta(days=7)


class InvitationUnavailable(Exception):
    """The link can no longer be used: cancelled, expired, superseded or already used by someone."""


def _require_can_manage(*, actor: Membership, role: str) -> None:
    if not actor.can_manage(role):
        raise PermissionDenied(
            "Only owners can manage owners." if role == Role.OWNER else "Your role cannot manage the team."
        )


def _invitation_send(*, invitation: Invitation, token: str, inviter: User | None) -> None:
    context = {
        "invitation": invitation,
        "tenant": invitation.tenant,
        "inviter": inviter,
        "role": Role(invitation.role).label,
        "accept_url": settings.PUBLIC_BASE_URL + reverse("invitations:accept", kwargs={"token": token}),
    }
    try:
        send_mail(
            subject=f"[Botyard] You're invited to join {invitation.tenant.name}",
            message=render_to_string("tenants/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    except OSError as exc:  # smtplib's errors are OSErrors; the caller's transaction undoes the invitation
        logger.warning("invitation e-mail failed", extra={"invitation": str(invitation.pk), "error": str(exc)})
        raise ValidationError(
            {"email": f"The e-mail to {invitation.email} could not be sent; check the address or try again."}
        ) from exc


def _invitation_issue_token(invitation: Invitation, *, now: datetime) -> str:
    """A fresh link: the token is never stored, so resending means a new one (and the old link stops working)."""
    token = url_token_new()
    invitation.token_hash = url_token_hash(token)
    invitation.expires_at = now + INVITATION_LIFETIME
    invitation.sent_at = now
    return token


@transaction.atomic
def invitation_create(*, tenant: Tenant, email: str, role: str, invited_by: Membership) -> Invitation:
    """Invites `email` to the team and e-mails the link. One pending invitation per address: inviting someone whose
    invitation is still open is refused (resend it instead); an expired one is replaced.

    The e-mail is sent inside the transaction, so an address that cannot be sent to leaves no invitation behind.
    """
    _require_can_manage(actor=invited_by, role=role)
    email = User.objects.normalize_email(email).strip().lower()
    if Membership.objects.for_tenant(tenant).filter(user__email=email).exists():
        raise ValidationError({"email": f"{email} is already on this team."})
    now = timezone.now()
    open_invitation = (
        Invitation.objects.for_tenant(tenant)
        .select_for_update()
        .filter(email=email, status=Invitation.Status.PENDING)
        .first()
    )
    if open_invitation is not None:
        if open_invitation.status_at(now) == Invitation.Status.PENDING:
            raise ValidationError({"email": f"{email} already has a pending invitation; resend it from the list."})
        open_invitation.status = Invitation.Status.EXPIRED
        open_invitation.save(update_fields=["status"])
    invitation = Invitation(tenant=tenant, email=email, role=role, invited_by=invited_by.user)
    token = _invitation_issue_token(invitation, now=now)
    invitation.full_clean()
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:  # a concurrent invitation to the same address won
        raise ValidationError(
            {"email": f"{email} already has a pending invitation; resend it from the list."}
        ) from None
    _invitation_send(invitation=invitation, token=token, inviter=invited_by.user)
    logger.info("invitation sent", extra={"tenant": tenant.slug, "invitation": str(invitation.pk), "role": role})
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor: Membership) -> Invitation:
    """A new link, valid for another week, e-mailed again; the previous link stops working."""
    _require_can_manage(actor=actor, role=invitation.role)
    locked: Invitation = Invitation.objects.for_tenant(actor.tenant).select_for_update().get(pk=invitation.pk)
    locked.tenant = actor.tenant
    if locked.status != Invitation.Status.PENDING:
        raise ValidationError(f"This invitation is {locked.get_status_display().lower()}; it cannot be resent.")
    token = _invitation_issue_token(locked, now=timezone.now())
    locked.save(update_fields=["token_hash", "expires_at", "sent_at"])
    _invitation_send(invitation=locked, token=token, inviter=actor.user)
    return locked


@transaction.atomic
def invitation_cancel(*, invitation: Invitation, actor: Membership) -> Invitation:
    """The link stops working at once. Cancelling twice changes nothing; an accepted invitation stays accepted."""
    _require_can_manage(actor=actor, role=invitation.role)
    locked: Invitation = Invitation.objects.for_tenant(actor.tenant).select_for_update().get(pk=invitation.pk)
    if locked.status == Invitation.Status.ACCEPTED:
        raise ValidationError("This invitation was already accepted; remove the member instead.")
    if locked.status == Invitation.Status.PENDING:
        locked.status, locked.cancelled_at = Invitation.Status.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "cancelled_at"])
    return locked


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Makes the invited user a member. Idempotent: accepting again returns the same membership."""
    locked = Invitation.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invitation.pk)
    if user.email.lower() != locked.email:
        raise PermissionDenied(f"This invitation is for {locked.email}.")
    if locked.status == Invitation.Status.ACCEPTED:
        membership: Membership | None = Membership.objects.for_tenant(locked.tenant).filter(user=user).first()
        if locked.accepted_by_id == user.pk and membership is not None:
            return membership
        raise InvitationUnavailable("This invitation has already been used.")
    status = locked.status_at(timezone.now())
    if status != Invitation.Status.PENDING:
        raise InvitationUnavailable(f"This invitation is {Invitation.Status(status).label.lower()}.")
    # Someone already on the team keeps the role they have: an invitation never demotes anyone.
    membership, _ = Membership.objects.get_or_create(tenant=locked.tenant, user=user, defaults={"role": locked.role})
    locked.status, locked.accepted_at, locked.accepted_by = Invitation.Status.ACCEPTED, timezone.now(), user
    locked.save(update_fields=["status", "accepted_at", "accepted_by"])
    logger.info("invitation accepted", extra={"tenant": locked.tenant.slug, "invitation": str(locked.pk)})
    return membership


@transaction.atomic
def invitation_accept_as_new_user(*, invitation: Invitation, password: str) -> Membership:
    """For an address with no account yet: creates the user with this password, then accepts."""
    if user_get_by_email(email=invitation.email) is not None:
        raise ValidationError("An account with this e-mail address exists; log in to accept.")
    user = User(email=invitation.email)
    validate_password(password, user=user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same link submitted twice at once
        raise ValidationError("An account with this e-mail address exists; log in to accept.") from None
    return invitation_accept(invitation=invitation, user=user)


def _owners_locked(*, tenant: Tenant) -> list[Membership]:
    """The tenant's owners, locked in a fixed order: two owners demoting each other at once cannot both win."""
    return list(Membership.objects.for_tenant(tenant).filter(role=Role.OWNER).select_for_update().order_by("pk"))


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, actor: Membership) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"{role!r} is not a role."})
    owners = _owners_locked(tenant=actor.tenant)
    locked: Membership = (
        Membership.objects.for_tenant(actor.tenant)
        .select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    _require_can_manage(actor=actor, role=locked.role)
    _require_can_manage(actor=actor, role=role)
    if locked.role == Role.OWNER and role != Role.OWNER and len(owners) == 1:
        raise ValidationError(f"{locked.user.email} is the last owner; make someone else an owner first.")
    if locked.role != role:
        locked.role = role
        locked.save(update_fields=["role"])
        logger.info("member role changed", extra={"membership": str(locked.pk), "role": role})
    return locked


@transaction.atomic
def membership_remove(*, membership: Membership, actor: Membership) -> None:
    owners = _owners_locked(tenant=actor.tenant)
    locked: Membership = (
        Membership.objects.for_tenant(actor.tenant)
        .select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership.pk)
    )
    _require_can_manage(actor=actor, role=locked.role)
    if locked.role == Role.OWNER and len(owners) == 1:
        who = "You are" if locked.pk == actor.pk else f"{locked.user.email} is"
        raise ValidationError(f"{who} the last owner; make someone else an owner first.")
    locked.delete()
    logger.info("member removed", extra={"membership": str(membership.pk)})


# --- Tenant settings -------------------------------------------------------------------------------------------------

TENANT_SETTINGS_FIELDS = (
    "name", "time_zone", "default_currency", "ad_disclosure", "default_fallback_reply", "optout_reply", "optin_reply",
)  # fmt: skip


@dataclass(frozen=True)
class TenantSettingsChange:
    tenant: Tenant
    time_zone_changed: bool


@transaction.atomic
def tenant_settings_update(*, tenant: Tenant, **fields: str) -> TenantSettingsChange:
    """Validates and saves the tenant's settings. A new time zone re-cuts every day of its figures: the KPI job
    rebuilds a tenant whose zone differs from the one its rollups were cut in, and it is started right away."""
    unknown = set(fields) - set(TENANT_SETTINGS_FIELDS)
    if unknown:
        raise TypeError(f"unexpected tenant settings: {sorted(unknown)}")
    # A fresh copy: on a validation error the caller's tenant (still shown on the page) keeps its saved values.
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    previous_zone = str(locked.time_zone)
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        try:
            setattr(locked, name, value.strip())
        except ValidationError as exc:  # the time-zone field refuses an unknown zone as it is assigned
            errors[name] = exc.messages
    try:
        locked.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    locked.save(update_fields=list(fields))
    time_zone_changed = str(locked.time_zone) != previous_zone
    if time_zone_changed:
        tenant_kpis_rebuild_enqueue()
    logger.info("tenant settings changed", extra={"tenant": locked.slug, "time_zone_changed": time_zone_changed})
    return TenantSettingsChange(tenant=locked, time_zone_changed=time_zone_changed)


def tenant_kpis_rebuild_enqueue() -> None:
    """Runs the KPI job after commit instead of at its next tick. It notices the changed zone by itself (the
    watermark remembers the zone the days were cut in), so if the broker is down the scheduled run still does it."""
    from analytics.tasks import aggregate_kpis  # analytics imports tenants; the task is only needed here

    transaction.on_commit(aggregate_kpis.delay, robust=True)
