"""KPI reads: totals, the previous period and a gap-free series, from the rollup tables only.

A constant number of queries for any range: the rollup rows of the range (one per day, bot and group), and the
distinct active members per period and overall, counted exactly from member-day rows.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth, TruncWeek

from analytics.histogram import histogram_merge, histogram_percentile
from analytics.models import DailyRollup, MemberDay
from tenants.models import Tenant

GRANULARITIES = ("day", "week", "month")
COUNTERS = ("messages", "interactions", "unhandled", "replies", "clicks", "conversions", "purchases")


@dataclass(frozen=True)
class KpiScope:
    """What the figures are about: a tenant, optionally one bot or one group (a bot has exactly one group)."""

    tenant: Tenant
    bot_id: Any = None
    group_id: Any = None


def period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if granularity == "month":
        return day.replace(day=1)
    return day


def _periods(start: date, end: date, granularity: str) -> list[date]:
    periods: list[date] = []
    current = period_start(start, granularity)
    while current <= end:
        periods.append(current)
        if granularity == "day":
            current += timedelta(days=1)
        elif granularity == "week":
            current += timedelta(days=7)
        else:
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return periods


def _rollups(scope: KpiScope, start: date, end: date) -> QuerySet[DailyRollup]:
    rows = DailyRollup.objects.for_tenant(scope.tenant).filter(day__gte=start, day__lte=end)
    if scope.bot_id is not None:
        rows = rows.filter(bot_id=scope.bot_id)
    if scope.group_id is not None:
        rows = rows.filter(group_id=scope.group_id)
    return rows


def _member_days(scope: KpiScope, start: date, end: date, *, group_id: Any) -> QuerySet[MemberDay]:
    rows = MemberDay.objects.for_tenant(scope.tenant).filter(day__gte=start, day__lte=end)
    return rows.filter(group_id=group_id) if group_id is not None else rows


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
    active = _member_days(scope, start, end, group_id=member_group).aggregate(n=Count("member_id", distinct=True))["n"]
    previous_active = _member_days(scope, previous_start, previous_end, group_id=member_group).aggregate(
        n=Count("member_id", distinct=True)
    )["n"]
    truncate = {"day": None, "week": TruncWeek, "month": TruncMonth}[granularity]
    per_period_members = _member_days(scope, start, end, group_id=member_group)
    if truncate is None:
        active_by_period = dict(
            per_period_members.values("day").annotate(n=Count("member_id", distinct=True)).values_list("day", "n")
        )
    else:
        active_by_period = dict(
            per_period_members.annotate(period=truncate("day"))
            .values("period")
            .annotate(n=Count("member_id", distinct=True))
            .values_list("period", "n")
        )
    active_by_period = {
        (period.date() if hasattr(period, "date") else period): count for period, count in active_by_period.items()
    }

    rows_by_period: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        rows_by_period[period_start(row["day"], granularity)].append(row)
    series = [
        {"period": period.isoformat(), **_figures(rows_by_period.get(period, []), active_by_period.get(period, 0))}
        for period in _periods(start, end, granularity)
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "granularity": granularity,
        "totals": _figures(rows, active or 0),
        "previous": {
            "start": previous_start.isoformat(),
            "end": previous_end.isoformat(),
            **_figures(previous_rows, previous_active or 0),
        },
        "series": series,
    }

