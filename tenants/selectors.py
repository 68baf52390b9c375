from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.utils import timezone

from tenants.keys import api_key_lookup_id, api_key_matches
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, User
from tenants.url_tokens import url_token_hash, url_token_plausible


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The active tenants a user belongs to (one query, tenant joined)."""
    return (
        Membership.objects.filter(user=user, tenant__is_active=True).select_related("tenant").order_by("tenant__name")
    )


def membership_get(*, user: User, tenant_slug: str) -> Membership | None:
    """A user's membership in the tenant at `tenant_slug`; None when there is none, whichever the reason."""
    return membership_list_for_user(user=user).filter(tenant__slug=tenant_slug).first()


def tenant_owner_emails(*, tenant: Tenant) -> list[str]:
    return list(
        Membership.objects.for_tenant(tenant)
        .filter(role=Role.OWNER, user__is_active=True)
        .values_list("user__email", flat=True)
    )


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant)


def api_key_get(*, tenant: Tenant, api_key_id: str) -> ApiKey | None:
    try:
        return api_key_list(tenant=tenant).get(pk=api_key_id)
    except (ApiKey.DoesNotExist, ValueError):
        return None


def api_key_get_for_authentication(*, raw_key: str, now: datetime | None = None) -> ApiKey | None:
    """The usable key a caller presented, with its tenant; None for anything else.

    The one lookup that is not scoped by tenant, because the key is what names the tenant.
    """
    lookup_id = api_key_lookup_id(raw_key)
    if lookup_id is None:
        return None
    api_key: ApiKey | None = ApiKey.objects.select_related("tenant").filter(lookup_id=lookup_id).first()
    if api_key is None or not api_key_matches(raw_key, api_key.key_hash):
        return None
    if not api_key.tenant.is_active or not api_key.is_usable_at(now or timezone.now()):
        return None
    return api_key


@dataclass(frozen=True)
class ApiKeyRow:
    """A key as the keys page shows it, judged at one instant: its status, and what needs the tenant's attention."""

    api_key: ApiKey
    status: str
    expiring_soon: bool  # active, and within the notice period of its expiry: roll it
    in_grace: bool  # rotated away and still accepted until expires_at


def api_key_rows(*, api_keys: Iterable[ApiKey], now: datetime) -> list[ApiKeyRow]:
    notice_from = now + timedelta(days=settings.API_KEY_EXPIRY_NOTICE_DAYS)
    rows = []
    for api_key in api_keys:
        status = api_key.status_at(now)
        rows.append(
            ApiKeyRow(
                api_key=api_key,
                status=status,
                expiring_soon=status == ApiKey.Status.ACTIVE and api_key.expires_at <= notice_from,
                in_grace=status == ApiKey.Status.ROTATED,
            )
        )
    return rows


@dataclass(frozen=True)
class ApiKeyWarnings:
    expiring_soon: int
    in_grace: int


def api_key_warnings(*, tenant: Tenant, now: datetime) -> ApiKeyWarnings:
    """How many of the tenant's keys expire soon or are in a grace period, over every page of the list (one query)."""
    working = Q(expires_at__gt=now)
    counts = api_key_list(tenant=tenant).aggregate(
        expiring_soon=Count(
            "pk",
            filter=working
            & Q(status=ApiKey.Status.ACTIVE)
            & Q(expires_at__lte=now + timedelta(days=settings.API_KEY_EXPIRY_NOTICE_DAYS)),
        ),
        in_grace=Count("pk", filter=working & Q(status=ApiKey.Status.ROTATED)),
    )
    return ApiKeyWarnings(expiring_soon=counts["expiring_soon"], in_grace=counts["in_grace"])


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    """The tenant's team, owners first, with their users."""
    rank = Case(When(role=Role.OWNER, then=Value(0)), When(role=Role.ADMIN, then=Value(1)), default=Value(2))
    members: QuerySet[Membership] = (
        Membership.objects.for_tenant(tenant)
        .select_related("user")
        .annotate(role_rank=rank)
        .order_by("role_rank", "user__email", "pk")
    )
    return members


def invitation_list_pending(*, tenant: Tenant) -> QuerySet[Invitation]:
    """Invitations still open (expired ones included, so they can be resent), newest first, with who sent them."""
    return (
        Invitation.objects.for_tenant(tenant)
        .filter(status=Invitation.Status.PENDING)
        .select_related("invited_by")
        .order_by("-created_at", "-pk")
    )


def invitation_get_by_token(*, token: str) -> Invitation | None:
    """The invitation a link names, with its tenant. Like an API key, the token is what names the tenant."""
    if not url_token_plausible(token):
        return None
    invitation: Invitation | None = (
        Invitation.objects.select_related("tenant").filter(token_hash=url_token_hash(token)).first()
    )
    return invitation


def user_get_by_email(*, email: str) -> User | None:
    user: User | None = User.objects.filter(email=User.objects.normalize_email(email).lower()).first()
    return user
