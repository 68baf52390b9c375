from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from tenants.keys import api_key_lookup_id, api_key_matches
from tenants.models import ApiKey, Membership, Role, Tenant, User


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The active tenants a user belongs to (one query, tenant joined)."""
    return (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
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
