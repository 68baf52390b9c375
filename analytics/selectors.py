"""KPI reads: totals, the previous period and a gap-free series, from the rollup tables only.

A bounded number of queries for any range: the rollup rows of the range (one per day, bot and group); distinct active
members overall by one index probe per member; per period from the counts the rebuild stores for whole days, weeks
and months, and live for the at most two periods the range's ends cut through. Every figure is exact.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, Sum

from analytics.histogram import histogram_merge, histogram_percentile
from analytics.models import ActiveMembers, AggregationWatermark, DailyRollup, IntentRollup, MemberDay
from analytics.periods import period_end, period_start, periods_between
from groups.models import Member
from tenants.models import Tenant

COUNTERS = ("messages", "interactions", "unhandled", "replies", "clicks", "conversions", "purchases")


@dataclass(frozen=True)
class KpiScope:
    """What the figures are about: a tenant, optionally one bot or one group (a bot has exactly one group)."""

    tenant: Tenant
    bot_id: Any = None
    group_id: Any = None


def _rollups(
    scope: KpiScope, start: date, end: date, *, model: type[DailyRollup | IntentRollup] = DailyRollup
) -> QuerySet[Any]:
    """The scope's rows of a day-keyed rollup table (DailyRollup or IntentRollup) for start..end."""
    rows = model.objects.for_tenant(scope.tenant).filter(day__gte=start, day__lte=end)
    if scope.bot_id is not None:
        rows = rows.filter(bot_id=scope.bot_id)
    if scope.group_id is not None:
        rows = rows.filter(group_id=scope.group_id)
    return rows


def distinct_active_members(scope: KpiScope, start: date, end: date, *, group_id: Any) -> int:
    """Members with at least one member-day in start..end: one index probe per member of the scope, so a year
    costs what a week does (the planner scans the member-days instead when the range holds fewer of them)."""
    members = Member.objects.filter(tenant=scope.tenant)
    if group_id is not None:
        members = members.filter(group_id=group_id)
    # The tenant narrows the member-days too, so a short range can be read from the key's (tenant, day) prefix.
    active = MemberDay.objects.filter(tenant=scope.tenant, member_id=OuterRef("pk"), day__gte=start, day__lte=end)
    return members.filter(Exists(active)).count()


def _active_members_by_period(
    scope: KpiScope, start: date, end: date, granularity: str, *, group_id: Any
) -> dict[date, int]:
    """Whole periods from the counts the rebuild stored; a week or month cut by the range's ends is counted live
    over the days inside the range (at most two such periods)."""
    periods = periods_between(start, end, granularity)
    stored = ActiveMembers.objects.for_tenant(scope.tenant).filter(
        granularity=granularity, period__gte=periods[0], period__lte=periods[-1]
    )
    if group_id is not None:
        stored = stored.filter(group_id=group_id)
    by_period = dict(stored.values("period").annotate(n=Sum("members")).values_list("period", "n"))
    for period in {periods[0], periods[-1]}:
        first, last = max(period, start), min(period_end(period, granularity), end)
        if (first, last) != (period, period_end(period, granularity)):
            by_period[period] = distinct_active_members(scope, first, last, group_id=group_id)
    return by_period


def _figures(rows: Iterable[dict[str, Any]], active_members: int) -> dict[str, Any]:
    rows = list(rows)
    totals: dict[str, Any] = {name: sum(row[name] for row in rows) for name in COUNTERS}
    revenue: dict[str, int] = defaultdict(int)
    for row in rows:
        for currency, amount in (row["revenue"] or {}).items():
            revenue[currency] += amount
    buckets = histogram_merge(row["response_time_buckets"] for row in rows)
    sentiment_count = sum(row["sentiment_count"] for row in rows)
    totals.update(
        active_members=active_members,
        conversion_rate=round(totals["purchases"] / totals["interactions"], 4) if totals["interactions"] else 0,
        revenue=dict(sorted(revenue.items())),
        response_time_p50_ms=histogram_percentile(buckets, 0.50),
        response_time_p95_ms=histogram_percentile(buckets, 0.95),
        sentiment_avg=round(sum(row["sentiment_sum"] for row in rows) / sentiment_count, 4) if sentiment_count else 0,
    )
    return totals


ROLLUP_FIELDS = ("day", *COUNTERS, "revenue", "response_time_buckets", "sentiment_sum", "sentiment_count")


def kpi_report(
    *, scope: KpiScope, start: date, end: date, granularity: str, group_of_bot: Any = None
) -> dict[str, Any]:
    """`totals` and `previous` (the same figures for the equally long period just before) and `series` (one entry
    per day, week or month, zeros where nothing happened). `group_of_bot` narrows active members for a bot."""
    member_group = scope.group_id if scope.group_id is not None else group_of_bot
    length = (end - start).days + 1
    previous_start, previous_end = start - timedelta(days=length), start - timedelta(days=1)

    rows = list(_rollups(scope, start, end).values(*ROLLUP_FIELDS))
    previous_rows = list(_rollups(scope, previous_start, previous_end).values(*ROLLUP_FIELDS))
    active = distinct_active_members(scope, start, end, group_id=member_group)
    previous_active = distinct_active_members(scope, previous_start, previous_end, group_id=member_group)
    active_by_period = _active_members_by_period(scope, start, end, granularity, group_id=member_group)

    rows_by_period: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        rows_by_period[period_start(row["day"], granularity)].append(row)
    series = [
        {"period": period.isoformat(), **_figures(rows_by_period.get(period, []), active_by_period.get(period, 0))}
        for period in periods_between(start, end, granularity)
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "granularity": granularity,
        "totals": _figures(rows, active),
        "previous": {
            "start": previous_start.isoformat(),
            "end": previous_end.isoformat(),
            **_figures(previous_rows, previous_active),
        },
        "series": series,
    }


def kpi_figures_as_of(*, tenant: Tenant) -> datetime | None:
    """When the tenant's rollups were last brought up to date (rows written before it are in the figures); None
    before the first aggregation run. The dashboard shows it so lagging figures are never mistaken for live ones."""
    return AggregationWatermark.objects.filter(tenant=tenant).values_list("read_through", flat=True).first()
