from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from groups.models import Group, Member
from tenants.models import Tenant


def group_list(*, tenant: Tenant) -> QuerySet[Group]:
    return Group.objects.for_tenant(tenant).order_by("-last_message_at", "name")


def group_get(*, tenant: Tenant, group_id: str) -> Group | None:
    try:
        return Group.objects.for_tenant(tenant).filter(pk=group_id).first()
    except (ValueError, ValidationError):
        return None


def member_list(*, tenant: Tenant) -> QuerySet[Member]:
    return Member.objects.for_tenant(tenant).select_related("group")


def member_is_opted_out(*, group_id: UUID, groupme_user_id: str) -> bool:
    """Whether the GroupMe user opted out in a group the caller already resolved for its tenant."""
    return Member.objects.filter(
        group_id=group_id, groupme_user_id=groupme_user_id, opted_out_at__isnull=False
    ).exists()
