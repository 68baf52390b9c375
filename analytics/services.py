"""The KPI rollup job: find the tenant-local days touched since the last run, rebuild each from raw rows.

Each day is rebuilt whole (delete + insert) in its own transaction, and the watermark only moves after every
touched day is done: a second run, or a run after a crash halfway, produces the same rows. Late events (a
postback for last week) are found by when they were written, and re-open the day they belong to.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.histogram import BUCKET_BOUNDS_MS, BUCKETS
from analytics.models import AggregationWatermark, DailyRollup, MemberDay
from bots.models import Interaction, ReplyPart
from groups.models import Message
from monetization.models import Click, Conversion
from tenants.models import Tenant

logger = logging.getLogger("botyard.analytics")

# Rows are read again from a little before the watermark: a transaction that began before the last run and
# committed after it has created_at values older than the watermark.
WATERMARK_OVERLAP = timedelta(minutes=10)

Key = tuple[Any, Any]  # (bot id, group id)


def day_bounds(*, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The aware instants where a tenant-local day starts and the next one starts (23 or 25 hours across DST)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def _bucket_expression() -> Case:
    whens = [When(response_time_ms__lt=bound, then=Value(index)) for index, bound in enumerate(BUCKET_BOUNDS_MS)]
    return Case(*whens, default=Value(BUCKETS - 1), output_field=IntegerField())


@dataclass
class _DayFigures:
    messages: int = 0
    interactions: int = 0
    unhandled: int = 0
    replies: int = 0
    clicks: int = 0
    conversions: int = 0
    purchases: int = 0
    revenue: dict[str, int] = field(default_factory=dict)
    response_time_buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    sentiment_sum: float = 0.0
    sentiment_count: int = 0


def kpi_day_rebuild(*, tenant: Tenant, day: date) -> int:
    """Rebuilds one tenant-local day from raw rows; returns how many rollup rows it now has."""
    start, end = day_bounds(day=day, zone=tenant.time_zone)
    figures: dict[Key, _DayFigures] = defaultdict(_DayFigures)

    user_messages = Message.objects.filter(
        tenant=tenant, sent_at__gte=start, sent_at__lt=end, sender_type=Message.SenderType.USER, is_system=False
    )
    for row in user_messages.values("bot_id", "group_id").annotate(n=Count("id")):
        figures[(row["bot_id"], row["group_id"])].messages = row["n"]

    interactions = Interaction.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    for row in interactions.values("bot_id", "group_id").annotate(
        n=Count("id"),
        unhandled=Count("id", filter=Q(handled=False)),
        replies=Count("id", filter=Q(reply_status=Interaction.ReplyStatus.SENT)),
        sentiment_sum=Sum("sentiment"),
    ):
        day_figures = figures[(row["bot_id"], row["group_id"])]
        day_figures.interactions, day_figures.unhandled = row["n"], row["unhandled"]
        day_figures.replies = row["replies"]
        day_figures.sentiment_sum, day_figures.sentiment_count = row["sentiment_sum"] or 0.0, row["n"]
    timed = interactions.filter(reply_status=Interaction.ReplyStatus.SENT, response_time_ms__isnull=False)
    for row in timed.annotate(bucket=_bucket_expression()).values("bot_id", "group_id", "bucket").annotate(
        n=Count("id")
    ):
        figures[(row["bot_id"], row["group_id"])].response_time_buckets[row["bucket"]] = row["n"]

    clicks = Click.objects.filter(tenant=tenant, clicked_at__gte=start, clicked_at__lt=end, is_bot=False)
    for row in clicks.values(bot_id=F("interaction__bot_id"), group_id=F("interaction__group_id")).annotate(
        n=Count("id")
    ):
        figures[(row["bot_id"], row["group_id"])].clicks = row["n"]

    conversions = Conversion.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    for row in conversions.values(
        "currency", "outcome", bot_id=F("interaction__bot_id"), group_id=F("interaction__group_id")
    ).annotate(n=Count("id"), amount=Sum("amount")):
        day_figures = figures[(row["bot_id"], row["group_id"])]
        if row["outcome"] != Conversion.Outcome.REFUND:
            day_figures.conversions += row["n"]
        if row["outcome"] == Conversion.Outcome.PURCHASE:
            day_figures.purchases += row["n"]
        day_figures.revenue[row["currency"]] = day_figures.revenue.get(row["currency"], 0) + (row["amount"] or 0)

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Rollups are derived and rebuilt from raw rows; WAL order still keeps the watermark behind them.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        DailyRollup.objects.filter(tenant=tenant, day=day).delete()
        MemberDay.objects.filter(tenant=tenant, day=day).delete()
        DailyRollup.objects.bulk_create(
            DailyRollup(tenant=tenant, day=day, bot_id=bot_id, group_id=group_id, **vars(day_figures))
            for (bot_id, group_id), day_figures in figures.items()
        )
        _member_days_insert(tenant=tenant, day=day, start=start, end=end)
    return len(figures)


def _member_days_insert(*, tenant: Tenant, day: date, start: datetime, end: datetime) -> None:
    """One set-based INSERT … SELECT DISTINCT: a busy day has tens of thousands of member-days, and carrying each
    through Python was most of a full rebuild's time."""
    member_days, messages = MemberDay._meta.db_table, Message._meta.db_table
    statement = (
        f"INSERT INTO {member_days} (tenant_id, day, group_id, member_id, created_at) "  # noqa: S608 - table names only
        f"SELECT DISTINCT tenant_id, %s, group_id, member_id, %s FROM {messages} "
        "WHERE tenant_id = %s AND sent_at >= %s AND sent_at < %s AND sender_type = %s AND NOT is_system "
        "AND member_id IS NOT NULL"
    )
    ops = connection.ops  # raw SQL gets values as the backend stores them (SQLite: naive UTC text)
    params = [
        ops.adapt_datefield_value(day), ops.adapt_datetimefield_value(timezone.now()),
        MemberDay._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection),
        ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end), Message.SenderType.USER,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _local_days(queryset: QuerySet[Any], *, field_name: str, zone: ZoneInfo) -> set[date]:
    return set(
        queryset.annotate(local_day=TruncDate(field_name, tzinfo=zone)).values_list("local_day", flat=True).distinct()
    )


def kpi_days_touched(*, tenant: Tenant, since: datetime) -> set[date]:
    """The tenant-local days whose figures may have changed because of rows written since `since`."""
    zone = tenant.time_zone
    days = _local_days(Message.objects.filter(tenant=tenant, received_at__gte=since), field_name="sent_at", zone=zone)
    days |= _local_days(
        Interaction.objects.filter(tenant=tenant, created_at__gte=since), field_name="occurred_at", zone=zone
    )
    days |= _local_days(
        ReplyPart.objects.filter(tenant=tenant, updated_at__gte=since), field_name="interaction__occurred_at", zone=zone
    )
    days |= _local_days(Click.objects.filter(tenant=tenant, created_at__gte=since), field_name="clicked_at", zone=zone)
    days |= _local_days(
        Conversion.objects.filter(tenant=tenant, created_at__gte=since), field_name="occurred_at", zone=zone
    )
    return days


def kpi_days_with_data(*, tenant: Tenant) -> list[date]:
    """Every tenant-local day from the first raw row to today: what a full rebuild walks."""
    firsts = [
        Message.objects.filter(tenant=tenant).order_by("sent_at").values_list("sent_at", flat=True).first(),
        Conversion.objects.filter(tenant=tenant).order_by("occurred_at").values_list("occurred_at", flat=True).first(),
        Click.objects.filter(tenant=tenant).order_by("clicked_at").values_list("clicked_at", flat=True).first(),
    ]
    known = [moment for moment in firsts if moment is not None]
    if not known:
        return []
    first = min(known).astimezone(tenant.time_zone).date()
    today = timezone.now().astimezone(tenant.time_zone).date()
    return [first + timedelta(days=offset) for offset in range((today - first).days + 1)]


@dataclass(frozen=True)
class AggregationReport:
    tenant: str
    days: int
    rows: int
    full: bool


def kpi_aggregate_tenant(
    *,
    tenant: Tenant,
    full: bool = False,
    since: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> AggregationReport:
    """Rolls up what changed since the tenant's watermark (everything with `full`, or on a time-zone change;
    every day from `since` when given)."""
    run_started = timezone.now()
    watermark = AggregationWatermark.objects.filter(tenant=tenant).first()
    zone_changed = watermark is not None and watermark.time_zone != str(tenant.time_zone)
    full = full or zone_changed or watermark is None
    if full:
        days = kpi_days_with_data(tenant=tenant)
    elif since is not None:
        today = timezone.now().astimezone(tenant.time_zone).date()
        days = [since + timedelta(days=offset) for offset in range(max(0, (today - since).days + 1))]
    else:
        assert watermark is not None
        days = sorted(kpi_days_touched(tenant=tenant, since=watermark.read_through - WATERMARK_OVERLAP))
    if full:
        # Days cut in another zone never line up with the new ones: nothing of the old rollups is kept.
        with transaction.atomic():
            DailyRollup.objects.filter(tenant=tenant).delete()
            MemberDay.objects.filter(tenant=tenant).delete()
    rows = 0
    for done, day in enumerate(days, start=1):
        rows += kpi_day_rebuild(tenant=tenant, day=day)
        if progress:
            progress(done, len(days))
    AggregationWatermark.objects.update_or_create(
        tenant=tenant, defaults={"read_through": run_started, "time_zone": str(tenant.time_zone)}
    )
    report = AggregationReport(tenant=tenant.slug, days=len(days), rows=rows, full=full)
    logger.info("kpis aggregated", extra=vars(report))
    return report


def kpi_aggregate(
    *, tenants: Iterable[Tenant] | None = None, full: bool = False, since: date | None = None
) -> list[AggregationReport]:
    chosen = tenants if tenants is not None else Tenant.objects.filter(is_active=True).order_by("pk")
    return [kpi_aggregate_tenant(tenant=tenant, full=full, since=since) for tenant in chosen]


def kpi_finalize_yesterday(*, now: datetime | None = None) -> list[AggregationReport]:
    """The nightly pass: rebuild each tenant's yesterday and today (in its own zone) whatever the watermark says,
    so a day is settled from every row that arrived for it, however late or out of order."""
    moment = now or timezone.now()
    reports = []
    for tenant in Tenant.objects.filter(is_active=True).order_by("pk"):
        yesterday = moment.astimezone(tenant.time_zone).date() - timedelta(days=1)
        reports.append(kpi_aggregate_tenant(tenant=tenant, since=yesterday))
    return reports
