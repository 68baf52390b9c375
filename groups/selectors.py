from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import ExpressionWrapper, F, FloatField, Func, Prefetch, QuerySet, Value
from django.db.models.functions import Greatest, Lower, Power
from django.utils import timezone

from bots.selectors import bot_list
from groups.models import Group, Member
from groups.services import ENGAGEMENT_HALF_LIFE
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


# --- Dashboard reads ---------------------------------------------------------------------------------------------

# How the members of a group can be ordered; each ends with the id so pages never shuffle rows that tie.
MEMBER_SORTS: dict[str, tuple[str, ...]] = {
    "-engagement": ("-engagement_now", "-last_seen_at", "id"),
    "engagement": ("engagement_now", "last_seen_at", "id"),
    "name": ("nickname_key", "id"),
    "last_seen": ("last_seen_at", "id"),
    "-last_seen": ("-last_seen_at", "id"),
}


class _EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, on PostgreSQL and on SQLite (the zero-config default)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra_context
        )


def _engagement_now(*, now: datetime) -> Any:
    """The stored score decays only when the member posts again; this decays it to `now` (same 14-day half-life)
    so a member who was busy last spring does not outrank today's regulars."""
    idle_half_lives = (Value(now.timestamp()) - _EpochSeconds("last_seen_at")) / Value(
        ENGAGEMENT_HALF_LIFE.total_seconds()
    )
    return ExpressionWrapper(
        F("engagement_score") * Power(Value(0.5), Greatest(idle_half_lives, Value(0.0))), output_field=FloatField()
    )


def group_list_with_bots(*, tenant: Tenant) -> QuerySet[Group]:
    """The tenant's groups, each with its live bots in `live_bots` (one extra query for the whole page)."""
    live_bots = Prefetch("bots", queryset=bot_list(tenant=tenant).select_related(None).order_by("name"),
                         to_attr="live_bots")  # fmt: skip
    return group_list(tenant=tenant).prefetch_related(live_bots)


def group_members(
    *, tenant: Tenant, group: Group, search: str = "", opted_out: bool | None = None, sort: str = "-engagement",
    now: datetime | None = None,
) -> QuerySet[Member]:  # fmt: skip
    """Members of one group with `engagement_now` (their score decayed to `now`), searched by nickname."""
    if sort not in MEMBER_SORTS:
        raise ValueError(f"unknown member sort {sort!r}")
    members = (
        Member.objects.for_tenant(tenant)
        .filter(group=group)
        .annotate(engagement_now=_engagement_now(now=now or timezone.now()), nickname_key=Lower("nickname"))
    )
    if search:
        members = members.filter(nickname__icontains=search)
    if opted_out is not None:
        members = members.filter(opted_out_at__isnull=not opted_out)
    ordered: QuerySet[Member] = members.order_by(*MEMBER_SORTS[sort])
    return ordered


def member_get(*, tenant: Tenant, member_id: str | UUID) -> Member | None:
    try:
        return Member.objects.for_tenant(tenant).select_related("group").filter(pk=member_id).first()
    except (ValueError, ValidationError):
        return None
