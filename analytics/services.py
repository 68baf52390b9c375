"""The KPI rollup job: find the tenant-local days touched since the last run, rebuild each from raw rows.

Each day is rebuilt whole (delete + insert) in its own transaction, and the watermark only moves after every
touched day is done: a second run, or a run after a crash halfway, produces the same rows. Late events (a
postback for last week) are found by when they were written, and re-open the day they belong to.
"""

import json
import logging
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BinaryField, Case, Count, F, Field, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from analytics.histogram import BUCKET_BOUNDS_MS, BUCKETS
from analytics.models import (
    KPI_DERIVED_MODELS,
    ActiveMembers,
    AggregationWatermark,
    DailyRollup,
    FunnelRollup,
    IntentRevenue,
    IntentRollup,
    MemberFirstDay,
    MemberYear,
    RetentionCell,
)
from analytics.periods import period_end, period_start, periods_between
from analytics.selectors import (
    FUNNEL_STEPS,
    active_day_position,
    attribution_windows,
    distinct_active_members_by_group,
    funnel_conversions,
    funnel_reached,
    year_day_offset,
)
from bots.models import Interaction, ReplyPart
from groups.models import Message
from monetization.models import Click, Conversion
from tenants.models import Tenant

logger = logging.getLogger("botyard.analytics")

# Rows are read again from a little before the watermark: a transaction that began before the last run and
# committed after it has created_at values older than the watermark.
WATERMARK_OVERLAP = timedelta(minutes=10)

Key = tuple[Any, Any]  # (bot id, group id)

# The member-days of the span being rebuilt, in a temporary table the span's transaction makes and drops: rows of
# (day, group_id, member_id), at least one for each member, tenant-local day and group where the member sent a
# message (on PostgreSQL the messages' grouping the rollups are written from, so also one per bot, and rows with
# no member; on other databases filled day by day). The member-years are made from them and keep them, a byte per
# day, and the first days are read from them. Stored as rows of their own, a year's 0.6-0.7 million were written
# with their key index by every full rebuild (3.4 s of the 7.2 s a year of 2,000 members took).
SPAN_MEMBER_DAYS = "kpi_member_messages"


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
    """Rebuilds one tenant-local day from raw rows in one transaction; returns how many rollup rows it now has."""
    return kpi_days_rebuild(tenant=tenant, first=day, last=day)


def kpi_days_rebuild(*, tenant: Tenant, first: date, last: date) -> int:
    """Rebuilds the tenant-local days `first`..`last` from raw rows in one transaction; returns the rollup rows.

    PostgreSQL does it in set-based statements (a month of a busy tenant in about the time of one scan of its rows);
    other databases (SQLite, the zero-config default) day by day in Python, because they cannot cut days in a
    time zone. The property tests hold both to the same figures.
    """
    if connection.vendor == "postgresql":
        return _days_rebuild_sql(tenant=tenant, first=first, last=last)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Ids untyped: SQLite stores them as the ORM writes them (UUIDs as hex text), with no conversion.
            cursor.execute(f"CREATE TEMPORARY TABLE {SPAN_MEMBER_DAYS} (day date, group_id, member_id, interacted)")
        rows = sum(
            _day_rebuild_python(tenant=tenant, day=first + timedelta(days=offset))
            for offset in range((last - first).days + 1)
        )
        _member_derived_rebuild(tenant=tenant, first=first, last=last)
        _intent_rollups_rebuild(tenant=tenant, first=first, last=last)
        _funnel_rollups_rebuild(tenant=tenant, first=first, last=last)
        return rows


def _member_derived_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    """Member-years, active member counts and retention for first..last from the span's member-days, which are then
    dropped (a second span in the same transaction makes its own; a rollback drops them with the rest)."""
    _member_years_rebuild(tenant=tenant, first=first, last=last)
    _active_members_rebuild(tenant=tenant, first=first, last=last)
    _retention_rebuild(tenant=tenant, first=first, last=last)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {SPAN_MEMBER_DAYS}")


def _intent_rollups_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    """Interactions per tenant-local day, bot, group and intent of first..last, and the attributed money per
    currency, on databases other than PostgreSQL (there the range statement writes them from its own pass over the
    interactions). Django cuts days in a zone on SQLite too."""
    zone = tenant.time_zone
    start, end = day_bounds(day=first, zone=zone)[0], day_bounds(day=last, zone=zone)[1]
    local_day = {"local_day": TruncDate("occurred_at", tzinfo=zone)}
    interactions = Interaction.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    per_intent = (
        interactions.annotate(**local_day)
        .values("local_day", "bot_id", "group_id", "intent")
        .annotate(n=Count("id"), unhandled=Count("id", filter=Q(handled=False)), sentiment_sum=Sum("sentiment"))
        .order_by()
    )
    rollups = [
        IntentRollup(
            tenant=tenant,
            day=row["local_day"],
            bot_id=row["bot_id"],
            group_id=row["group_id"],
            intent=row["intent"],
            interactions=row["n"],
            unhandled=row["unhandled"],
            sentiment_sum=row["sentiment_sum"] or 0.0,
        )
        for row in per_intent
    ]
    conversions = Conversion.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    per_currency = (
        conversions.annotate(**local_day)
        .values(
            "local_day", "currency", bot_id=F("interaction__bot_id"), group_id=F("interaction__group_id"),
            intent=F("interaction__intent"),
        )
        .annotate(purchases=Count("id", filter=Q(outcome=Conversion.Outcome.PURCHASE)), net=Sum("amount", default=0))
        .order_by()
    )  # fmt: skip
    revenue = [
        IntentRevenue(
            tenant=tenant,
            day=row["local_day"],
            bot_id=row["bot_id"],
            group_id=row["group_id"],
            intent=row["intent"],
            currency=row["currency"],
            purchases=row["purchases"],
            net=row["net"],
        )
        for row in per_currency
    ]
    for model in (IntentRollup, IntentRevenue):
        model.objects.filter(tenant=tenant, day__gte=first, day__lte=last).delete()
    IntentRollup.objects.bulk_create(rollups)
    IntentRevenue.objects.bulk_create(revenue)


def _funnel_rollups_rebuild(*, tenant: Tenant, first: date, last: date) -> int:
    """The funnel of the human clicks of each tenant-local day first..last, bot and group, from the conversions
    attributed to them within each source's window (every one the tenant has now: a conversion may come days after
    its click). Two grouped queries over those conversions (a few per hundred clicks); returns the rows written."""
    zone = tenant.time_zone
    since, until = day_bounds(day=first, zone=zone)[0], day_bounds(day=last, zone=zone)[1]
    converted = funnel_conversions(tenant=tenant, since=since, until=until).annotate(
        local_day=TruncDate("human_click_at", tzinfo=zone)
    )
    # The conversion's interaction is its click's (attribution takes both from the click).
    keys = {"bot_id": F("interaction__bot_id"), "group_id": F("interaction__group_id")}
    per_key = (
        converted.values("local_day", **keys)
        .annotate(
            **{f"{step}s_reached": reached for step, reached in funnel_reached().items()},
            **{f"{step}s": Count("pk", filter=Q(outcome=step)) for step in FUNNEL_STEPS},
        )
        .order_by()
    )
    money: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    purchases = converted.filter(outcome=Conversion.Outcome.PURCHASE).values("local_day", "currency", **keys)
    for row in purchases.annotate(amount=Sum("amount")).order_by():
        money[(row["local_day"], row["bot_id"], row["group_id"])][row["currency"]] = row["amount"]
    rollups = []
    for row in per_key:
        day = row.pop("local_day")
        revenue = money.get((day, row["bot_id"], row["group_id"]), {})
        rollups.append(FunnelRollup(tenant=tenant, day=day, purchase_revenue=dict(sorted(revenue.items())), **row))
    FunnelRollup.objects.filter(tenant=tenant, day__gte=first, day__lte=last).delete()
    FunnelRollup.objects.bulk_create(rollups)
    return len(rollups)


def _active_members_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    """Recounts the distinct active members of every day, week and month that overlaps first..last, from the
    member-years, which must be rewritten for the span first.

    A day's: the b"1"s at its place in the group's rows, counted in Python (a year of 2,000 members in ~8 ms, where
    counting the member-days by day took 0.1-0.2 s once they were distinct, and making them distinct 0.5 s). A
    week's and a month's: a byte search per period in each member's row (counting distinct members over the
    member-days sorted every one of them per granularity: with the retention cells' like count, 2.3-2.6 s of a
    10M-interaction rebuild)."""
    ActiveMembers.objects.filter(
        tenant=tenant, granularity=ActiveMembers.Granularity.DAY, period__gte=first, period__lte=last
    ).delete()
    counts = list(_active_day_counts(tenant=tenant, first=first, last=last))
    periods_by_granularity = {
        granularity: periods_between(first, last, granularity)
        for granularity in (ActiveMembers.Granularity.WEEK, ActiveMembers.Granularity.MONTH)
    }
    for granularity, within in periods_by_granularity.items():
        ActiveMembers.objects.filter(
            tenant=tenant, granularity=granularity, period__gte=within[0], period__lte=within[-1]
        ).delete()
    periods = [(granularity, period) for granularity, within in periods_by_granularity.items() for period in within]
    active = distinct_active_members_by_group(
        tenant=tenant, ranges=[(period, period_end(period, granularity)) for granularity, period in periods]
    )
    counts += (
        ActiveMembers(tenant=tenant, granularity=periods[index][0], period=periods[index][1], group_id=group_id,
                      members=members)
        for (index, group_id), members in active.items()
    )  # fmt: skip
    ActiveMembers.objects.bulk_create(counts)


def _year_spans(first: date, last: date) -> Iterator[tuple[int, date, date]]:
    """(year, first day, last day) of each calendar year's part of first..last: member-years are per year."""
    for year in range(first.year, last.year + 1):
        yield year, max(first, date(year, 1, 1)), min(last, date(year, 12, 31))


def _active_day_counts(*, tenant: Tenant, first: date, last: date) -> Iterator[ActiveMembers]:
    for year, span_first, span_last in _year_spans(first, last):
        length = (span_last - span_first).days + 1
        spans = (
            MemberYear.objects.filter(tenant=tenant, year=year)
            .alias(active_at=active_day_position(span_first, span_last))
            .filter(active_at__gt=0)
            .values_list(
                "group_id", Substr("days", year_day_offset(span_first) + 1, length, output_field=BinaryField())
            )
        )
        spans_by_group: dict[Any, list[bytes]] = defaultdict(list)
        for group_id, span in spans:
            spans_by_group[group_id].append(bytes(span))
        for group_id, group_spans in spans_by_group.items():
            for offset, day_bytes in enumerate(zip(*group_spans, strict=True)):
                if members := day_bytes.count(ord("1")):
                    day = span_first + timedelta(days=offset)
                    yield ActiveMembers(
                        tenant=tenant, granularity=ActiveMembers.Granularity.DAY, period=day, group_id=group_id,
                        members=members,
                    )  # fmt: skip


def _member_years_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    """Rewrites the bytes of first..last in the member-years from the span's member-days: those of the members
    active in the span, and of the members who were (their bytes there are cleared, and a year left with no active
    day loses its row)."""
    for year, span_first, span_last in _year_spans(first, last):
        if connection.vendor == "postgresql":
            _member_year_span_sql(tenant=tenant, year=year, first=span_first, last=span_last)
        else:
            _member_year_span_python(tenant=tenant, year=year, first=span_first, last=span_last)


# One year's span of member-years rewritten in the database: each member's days of the span OR-ed as bits
# and written out as b"0"/b"1" (a year of 2,000 members' half-million member-days in ~0.4 s; through Python, 3 s),
# the days with an interaction OR-ed the same way and kept as bits (a subset of the active days, so the same rows
# change), spliced into the stored rows of the members active in the span or before the rebuild, and written where
# they changed (the job rebuilds today every few minutes: rewriting each active member's row each time would leave
# thousands of dead rows a run for vacuum); then the rows with no active day left are dropped.
_MEMBER_YEAR_SPAN_SQL = (
    """
WITH span AS (
  SELECT member_id, (array_agg(group_id))[1] AS group_id, convert_to(bit_or(day_bit)::text, 'SQL_ASCII') AS days,
         coalesce(bit_or(day_bit) FILTER (WHERE interacted), B'0'::bit({length})) AS interaction_days
  FROM (
    SELECT member_id, group_id, interacted, B'1'::bit({length}) >> (day - %(first)s::date) AS day_bit
    FROM {span_member_days} WHERE day BETWEEN %(first)s AND %(last)s AND member_id IS NOT NULL
  ) AS span_days
  GROUP BY member_id
), stored AS (
  SELECT member_id, group_id, days, interaction_days FROM {member_year}
  WHERE tenant_id = %(tenant)s AND year = %(year)s
    AND (member_id IN (SELECT member_id FROM span)
         OR position('\\x31'::bytea IN substring(days, %(position)s, {length})) > 0)
)
INSERT INTO {member_year} (tenant_id, year, member_id, group_id, days, interaction_days, created_at)
SELECT %(tenant)s, %(year)s, member_id, coalesce(span.group_id, stored.group_id),
       overlay(coalesce(stored.days, convert_to(repeat('0', {year_days}), 'SQL_ASCII'))
               placing coalesce(span.days, convert_to(repeat('0', {length}), 'SQL_ASCII'))
               from %(position)s for {length}),
       overlay(coalesce(stored.interaction_days, B'0'::bit({year_days}))
               placing coalesce(span.interaction_days, B'0'::bit({length})) from %(position)s for {length}),
       %(now)s
FROM span FULL JOIN stored USING (member_id)
ON CONFLICT (tenant_id, year, member_id) DO UPDATE
  SET days = excluded.days, interaction_days = excluded.interaction_days, group_id = excluded.group_id
  WHERE ({member_year}.days, {member_year}.interaction_days, {member_year}.group_id)
    IS DISTINCT FROM (excluded.days, excluded.interaction_days, excluded.group_id)
""",
    """
DELETE FROM {member_year} WHERE tenant_id = %(tenant)s AND year = %(year)s AND position('\\x31'::bytea IN days) = 0
""",
)


def _member_year_span_sql(*, tenant: Tenant, year: int, first: date, last: date) -> None:
    tables = {"span_member_days": SPAN_MEMBER_DAYS, "member_year": MemberYear._meta.db_table}
    sizes = {"length": (last - first).days + 1, "year_days": MemberYear.YEAR_DAYS}  # integers: a bit type's length
    params: dict[str, Any] = {
        "tenant": tenant.pk, "year": year, "first": first, "last": last, "position": year_day_offset(first) + 1,
        "now": timezone.now(),
    }  # fmt: skip
    with connection.cursor() as cursor:
        for statement in _MEMBER_YEAR_SPAN_SQL:
            cursor.execute(statement.format(**tables, **sizes), params)


def _member_year_span_python(*, tenant: Tenant, year: int, first: date, last: date) -> None:
    offset, length = year_day_offset(first), (last - first).days + 1
    spans: dict[Any, tuple[Any, bytearray, bytearray]] = {}
    for member_id, group_id, day, interacted in _span_member_days(
        f"SELECT member_id, group_id, day, interacted FROM {SPAN_MEMBER_DAYS} "  # noqa: S608 - a constant name
        "WHERE day BETWEEN %s AND %s AND member_id IS NOT NULL",
        _span_params(first, last),
    ):
        _, span, interaction_span = spans.setdefault(
            member_id, (group_id, bytearray(b"0" * length), bytearray(b"0" * length))
        )
        span[(day - first).days] = ord("1")
        if interacted:
            interaction_span[(day - first).days] = ord("1")
    stored = (
        MemberYear.objects.filter(tenant=tenant, year=year)
        .alias(active_at=active_day_position(first, last))
        .filter(Q(member_id__in=_span_members(first, last)) | Q(active_at__gt=0))
    )
    years = {
        member_id: (group_id, bytes(days), interaction_days)
        for member_id, group_id, days, interaction_days in stored.values_list(
            "member_id", "group_id", "days", "interaction_days"
        )
    }
    idle = bytearray(b"0" * length)
    for member_id in spans.keys() | years.keys():
        group_id, span, interaction_span = spans.get(member_id) or (years[member_id][0], idle, idle)
        _, days, interaction_days = years.get(
            member_id, (group_id, b"0" * MemberYear.YEAR_DAYS, "0" * MemberYear.YEAR_DAYS)
        )
        years[member_id] = (
            group_id,
            days[:offset] + span + days[offset + length :],
            interaction_days[:offset] + interaction_span.decode() + interaction_days[offset + length :],
        )
    stored.delete()
    MemberYear.objects.bulk_create(
        (
            MemberYear(
                tenant=tenant,
                year=year,
                member_id=member_id,
                group_id=group_id,
                days=days,
                interaction_days=interaction_days,
            )
            for member_id, (group_id, days, interaction_days) in years.items()
            if b"1" in days
        ),
        batch_size=2000,
    )


def _retention_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    """Brings members' first active days and the retention cells up to date after the member-years of first..last
    were rewritten from the span's member-days.

    The days before `first` did not change, so only a member active in the span or whose first day lay in it can
    have a new first day; the cells that can change are those of a week overlapping the span (every cohort) and
    those of the cohorts such a member left or joined (every week).
    """
    span_firsts = {
        member_id: (group_id, day)
        for member_id, group_id, day in _span_member_days(
            f"SELECT member_id, group_id, min(day) FROM {SPAN_MEMBER_DAYS} "  # noqa: S608
            "WHERE member_id IS NOT NULL GROUP BY member_id, group_id"
        )
    }
    stored = dict(
        MemberFirstDay.objects.filter(tenant=tenant)
        .filter(Q(day__gte=first, day__lte=last) | Q(member_id__in=_span_members(first, last)))
        .values_list("member_id", "day")
    )
    firsts: dict[Any, tuple[Any, date]] = {
        member_id: (group_id, day)
        for member_id, (group_id, day) in span_firsts.items()
        if stored.get(member_id) is None or stored[member_id] >= first  # an earlier first day still stands
    }
    left_span = [member_id for member_id, day in stored.items() if day <= last and member_id not in span_firsts]
    if left_span:  # no longer active in the span: the first is a later day, if any
        firsts.update(_first_days_after(tenant=tenant, member_ids=left_span, day=last))
    changed = {member_id for member_id, (_, day) in firsts.items() if stored.get(member_id) != day}
    changed.update(member_id for member_id in left_span if member_id not in firsts)
    cohorts = {period_start(stored[member_id], "week") for member_id in changed if member_id in stored}
    cohorts.update(period_start(firsts[member_id][1], "week") for member_id in changed if member_id in firsts)

    MemberFirstDay.objects.filter(tenant=tenant, member_id__in=[m for m in changed if m not in firsts]).delete()
    MemberFirstDay.objects.bulk_create(
        [
            MemberFirstDay(tenant=tenant, member_id=member_id, group_id=firsts[member_id][0], day=firsts[member_id][1])
            for member_id in changed
            if member_id in firsts
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["member"],
        update_fields=["day", "group"],
    )

    first_week, last_week = period_start(first, "week"), period_start(last, "week")
    RetentionCell.objects.filter(tenant=tenant).filter(
        reduce(operator.or_, [Q(week__gte=first_week, week__lte=last_week), *[Q(cohort=c) for c in cohorts]])
    ).delete()
    cells = [
        RetentionCell(
            tenant=tenant, group_id=group_id, cohort=cohort, week=week, weeks_after=(week - cohort).days // 7,
            members=members,
        )
        for cohort, week, group_id, members in _retention_counts(
            tenant=tenant, weeks=(first_week, last_week), cohorts=sorted(cohorts)
        )
    ]  # fmt: skip
    RetentionCell.objects.bulk_create(cells, batch_size=2000)


def _first_days_after(*, tenant: Tenant, member_ids: list[Any], day: date) -> dict[Any, tuple[Any, date]]:
    """member id -> (group id, first active day after `day`) from the member-years, for those of `member_ids` active
    after it (rare: members whose first day was in a span they are no longer active in)."""
    firsts: dict[Any, tuple[Any, date]] = {}
    later_years = MemberYear.objects.filter(tenant=tenant, member_id__in=member_ids, year__gte=day.year)
    for member_id, group_id, year, days in later_years.order_by("year").values_list(
        "member_id", "group_id", "year", "days"
    ):
        position = bytes(days).find(b"1", year_day_offset(day) + 1 if year == day.year else 0)
        if position >= 0 and member_id not in firsts:
            firsts[member_id] = (group_id, date(year, 1, 1) + timedelta(days=position))
    return firsts


def _span_params(first: date, last: date) -> list[Any]:
    return [connection.ops.adapt_datefield_value(first), connection.ops.adapt_datefield_value(last)]


def _span_members(first: date, last: date) -> RawSQL:
    """The members with a member-day in first..last of the span, as a subquery."""
    return RawSQL(  # noqa: S611 - a constant table name, values bound
        f"SELECT member_id FROM {SPAN_MEMBER_DAYS} WHERE day BETWEEN %s AND %s AND member_id IS NOT NULL",  # noqa: S608
        _span_params(first, last),
    )


def _span_member_days(statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """(member id, group id, day, any further columns as they come) rows of a statement over the span's member-days,
    the first three as the ORM would give them: raw SQL on SQLite returns UUIDs as hex text and an aggregate's date
    as ISO text."""
    member_id, group_id = (
        cast("Field[Any, Any]", MemberYear._meta.get_field(name)).to_python for name in ("member", "group")
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [
            (member_id(member), group_id(group), day if isinstance(day, date) else date.fromisoformat(day), *rest)
            for member, group, day, *rest in cursor.fetchall()
        ]


def _retention_counts(
    *, tenant: Tenant, weeks: tuple[date, date], cohorts: list[date]
) -> Iterator[tuple[date, date, Any, int]]:
    """(cohort, week, group id, members) for the weeks first..last (Mondays) and for every week of `cohorts`.

    From the member-years (rewritten for the span before this) with each member's first day: one statement, a byte
    search per member and week, where counting distinct members per cell over the member-days hashed or sorted
    every member-day of the span (1.1 s of a 10M-interaction year). A changed cohort's weeks run from the cohort to
    the end of the tenant's last member-year; cells of other cohorts in those weeks are computed too and dropped."""
    span_weeks = set(periods_between(weeks[0], weeks[1], "week"))
    counted = set(span_weeks)
    if cohorts:
        last_year = MemberYear.objects.filter(tenant=tenant).aggregate(last=Max("year"))["last"]
        if last_year is not None:
            counted.update(periods_between(cohorts[0], date(last_year, 12, 31), "week"))
    ordered = sorted(counted)
    active = distinct_active_members_by_group(
        tenant=tenant, ranges=[(week, period_end(week, "week")) for week in ordered], by_cohort=True
    )
    wanted_cohorts = set(cohorts)
    for (index, group_id, cohort), members in active.items():
        week = ordered[index]
        if week in span_weeks or cohort in wanted_cohorts:
            yield cohort, week, group_id, members


def _day_rebuild_python(*, tenant: Tenant, day: date) -> int:
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
    for row in (
        timed.annotate(bucket=_bucket_expression()).values("bot_id", "group_id", "bucket").annotate(n=Count("id"))
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

    DailyRollup.objects.filter(tenant=tenant, day=day).delete()
    DailyRollup.objects.bulk_create(
        DailyRollup(tenant=tenant, day=day, bot_id=bot_id, group_id=group_id, **vars(day_figures))
        for (bot_id, group_id), day_figures in figures.items()
    )
    _span_member_days_insert(tenant=tenant, day=day, start=start, end=end)
    return len(figures)


def _span_member_days_insert(*, tenant: Tenant, day: date, start: datetime, end: datetime) -> None:
    """One set-based INSERT … SELECT … GROUP BY: a busy day has tens of thousands of member-days, and carrying each
    through Python was most of a full rebuild's time."""
    statement = (
        f"INSERT INTO {SPAN_MEMBER_DAYS} (day, group_id, member_id, interacted) "  # noqa: S608 - table names only
        f"SELECT %s, group_id, member_id, MAX(has_interaction) FROM {Message._meta.db_table} "
        "WHERE tenant_id = %s AND sent_at >= %s AND sent_at < %s AND sender_type = %s AND NOT is_system "
        "AND member_id IS NOT NULL GROUP BY group_id, member_id"
    )
    ops = connection.ops  # raw SQL gets values as the backend stores them (SQLite: naive UTC text)
    params = [
        ops.adapt_datefield_value(day), Message._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection),
        ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end), Message.SenderType.USER,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


# The reads of a range, each grouped into a temporary table first: its messages per member, its interactions per
# intent and response-time bucket, its clicks and conversions per interaction's bot, group (and intent). PostgreSQL
# runs a statement that writes to a table serially, except CREATE TABLE AS, whose SELECT may use parallel workers:
# over a year these scans are most of the rebuild, and the statement that writes the rollups then reads their far
# smaller results.
_RANGE_GROUPED_SQL = (
    """
CREATE TEMPORARY TABLE kpi_member_messages ON COMMIT DROP AS
SELECT sent_at::date AS day, bot_id, group_id, member_id, count(*) AS n, bool_or(has_interaction) AS interacted
FROM {message}
WHERE tenant_id = %(tenant)s AND sent_at >= %(start)s AND sent_at < %(end)s AND sender_type = 'user' AND NOT is_system
GROUP BY 1, 2, 3, 4
""",
    """
CREATE TEMPORARY TABLE kpi_interactions_by_intent ON COMMIT DROP AS
SELECT occurred_at::date AS day, bot_id, group_id, intent,
       CASE WHEN reply_status = 'sent' AND response_time_ms IS NOT NULL
            THEN width_bucket(response_time_ms, %(bounds)s::int[]) END AS bucket,
       count(*) AS n, count(*) FILTER (WHERE NOT handled) AS unhandled,
       count(*) FILTER (WHERE reply_status = 'sent') AS replies, coalesce(sum(sentiment), 0) AS sentiment_sum
FROM {interaction}
WHERE tenant_id = %(tenant)s AND occurred_at >= %(start)s AND occurred_at < %(end)s
GROUP BY 1, 2, 3, 4, 5
""",
    """
CREATE TEMPORARY TABLE kpi_clicks ON COMMIT DROP AS
SELECT c.clicked_at::date AS day, i.bot_id, i.group_id, count(*) AS n
FROM {click} c LEFT JOIN {interaction} i ON i.id = c.interaction_id
WHERE c.tenant_id = %(tenant)s AND c.clicked_at >= %(start)s AND c.clicked_at < %(end)s AND NOT c.is_bot
GROUP BY 1, 2, 3
""",
    """
CREATE TEMPORARY TABLE kpi_conversions_by_intent ON COMMIT DROP AS
SELECT v.occurred_at::date AS day, i.bot_id, i.group_id, i.intent, v.currency,
       count(*) FILTER (WHERE v.outcome <> 'refund') AS n, count(*) FILTER (WHERE v.outcome = 'purchase') AS purchases,
       coalesce(sum(v.amount), 0) AS amount
FROM {conversion} v LEFT JOIN {interaction} i ON i.id = v.interaction_id
WHERE v.tenant_id = %(tenant)s AND v.occurred_at >= %(start)s AND v.occurred_at < %(end)s
GROUP BY 1, 2, 3, 4, 5
""",
)
# Within the caller's transaction a second span must find the names free: dropped as soon as they are read.
# (kpi_member_messages, the span's member-days, after the member-years are made from them.)
_RANGE_GROUPED_DROP_SQL = "DROP TABLE kpi_interactions_by_intent, kpi_clicks, kpi_conversions_by_intent"

# Every figure of DailyRollup, IntentRollup and IntentRevenue for each tenant-local day, bot and group of a range,
# computed where the rows are from the grouped tables above: messages from the messages' grouping, both
# interaction rollups from the interactions'; nothing but row counts comes back to Python. Same rules as
# _day_rebuild_python and _intent_rollups_rebuild.
_RANGE_REBUILD_SQL = """
WITH messages AS (
  SELECT day, bot_id, group_id, sum(n) AS n FROM kpi_member_messages GROUP BY 1, 2, 3
), intent_rollups AS (
  INSERT INTO {intent_rollup} (tenant_id, created_at, day, bot_id, group_id, intent, interactions, unhandled,
                               sentiment_sum)
  SELECT %(tenant)s::uuid, %(now)s, day, bot_id, group_id, intent, sum(n), sum(unhandled), sum(sentiment_sum)
  FROM kpi_interactions_by_intent GROUP BY day, bot_id, group_id, intent
  RETURNING 1
), interactions_by_bucket AS (
  SELECT day, bot_id, group_id, bucket, sum(n) AS n, sum(unhandled) AS unhandled, sum(replies) AS replies,
         sum(sentiment_sum) AS sentiment_sum
  FROM kpi_interactions_by_intent GROUP BY 1, 2, 3, 4
), interactions AS (
  SELECT day, bot_id, group_id, sum(n) AS n, sum(unhandled) AS unhandled, sum(replies) AS replies,
         sum(sentiment_sum) AS sentiment_sum, jsonb_build_array({buckets}) AS buckets
  FROM interactions_by_bucket GROUP BY 1, 2, 3
), intent_revenue AS (
  INSERT INTO {intent_revenue} (tenant_id, created_at, day, bot_id, group_id, intent, currency, purchases, net)
  SELECT %(tenant)s::uuid, %(now)s, day, bot_id, group_id, intent, currency, purchases, amount
  FROM kpi_conversions_by_intent
  RETURNING 1
), conversions_by_currency AS (
  SELECT day, bot_id, group_id, currency, sum(n) AS n, sum(purchases) AS purchases, sum(amount) AS amount
  FROM kpi_conversions_by_intent GROUP BY 1, 2, 3, 4
), conversions AS (
  SELECT day, bot_id, group_id, sum(n) AS n, sum(purchases) AS purchases, jsonb_object_agg(currency, amount) AS revenue
  FROM conversions_by_currency GROUP BY 1, 2, 3
), keys AS (
  SELECT day, bot_id, group_id FROM messages UNION SELECT day, bot_id, group_id FROM interactions
  UNION SELECT day, bot_id, group_id FROM kpi_clicks UNION SELECT day, bot_id, group_id FROM conversions
), inserted AS (
  INSERT INTO {rollup} (tenant_id, created_at, day, bot_id, group_id, messages, interactions, unhandled, replies,
                        clicks, conversions, purchases, revenue, response_time_buckets, sentiment_sum, sentiment_count)
  SELECT %(tenant)s::uuid, %(now)s, k.day, k.bot_id, k.group_id, coalesce(m.n, 0), coalesce(i.n, 0),
         coalesce(i.unhandled, 0), coalesce(i.replies, 0), coalesce(c.n, 0), coalesce(v.n, 0),
         coalesce(v.purchases, 0), coalesce(v.revenue, '{{}}'::jsonb), coalesce(i.buckets, %(no_buckets)s::jsonb),
         coalesce(i.sentiment_sum, 0), coalesce(i.n, 0)
  FROM keys k
  LEFT JOIN messages m ON m.day = k.day AND m.bot_id IS NOT DISTINCT FROM k.bot_id
    AND m.group_id IS NOT DISTINCT FROM k.group_id
  LEFT JOIN interactions i ON i.day = k.day AND i.bot_id IS NOT DISTINCT FROM k.bot_id
    AND i.group_id IS NOT DISTINCT FROM k.group_id
  LEFT JOIN kpi_clicks c ON c.day = k.day AND c.bot_id IS NOT DISTINCT FROM k.bot_id
    AND c.group_id IS NOT DISTINCT FROM k.group_id
  LEFT JOIN conversions v ON v.day = k.day AND v.bot_id IS NOT DISTINCT FROM k.bot_id
    AND v.group_id IS NOT DISTINCT FROM k.group_id
  RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM intent_rollups), (SELECT count(*) FROM intent_revenue)
"""


# Spans at least this long group their raw rows with the session's JIT setting (PostgreSQL's default: on).
JIT_MIN_SPAN = timedelta(days=28)

# pg_advisory_xact_lock(class, key): the class keeps these locks apart from any other use of advisory locks.
ADVISORY_LOCK_CLASS = 0x4B5049  # "KPI"


def _tenant_lock_key(tenant: Tenant) -> int:
    return int.from_bytes(tenant.pk.bytes[-4:], "big", signed=True)


def _tenant_span_lock(cursor: Any, tenant: Tenant) -> None:
    """Runs of the job may overlap (beat, the nightly pass, a time-zone change, the command): each would delete what
    the other has not committed yet and both would insert. One span of one tenant at a time, until commit."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, _tenant_lock_key(tenant)])


@contextmanager
def _transaction_settings(cursor: Any, **values: str) -> Iterator[None]:
    """PostgreSQL settings for the statements inside, then back to what they were: a caller's transaction that goes
    on after them keeps its own. (Rolling back to a savepoint before them undoes them too.)"""

    def apply(chosen: dict[str, str]) -> None:
        cursor.execute(
            f"SELECT {', '.join(['set_config(%s, %s, true)'] * len(chosen))}",
            [part for name, value in chosen.items() for part in (name, value)],
        )

    cursor.execute(f"SELECT {', '.join(['current_setting(%s)'] * len(values))}", list(values))
    saved = dict(zip(values, cursor.fetchone(), strict=True))
    apply(values)
    yield
    apply(saved)


def _days_rebuild_sql(*, tenant: Tenant, first: date, last: date) -> int:
    start, _ = day_bounds(day=first, zone=tenant.time_zone)
    _, end = day_bounds(day=last, zone=tenant.time_zone)
    tables = {
        "message": Message._meta.db_table,
        "interaction": Interaction._meta.db_table, "click": Click._meta.db_table,
        "conversion": Conversion._meta.db_table, "rollup": DailyRollup._meta.db_table,
        "intent_rollup": IntentRollup._meta.db_table, "intent_revenue": IntentRevenue._meta.db_table,
    }  # fmt: skip
    statement = _RANGE_REBUILD_SQL.format(
        **tables, buckets=", ".join(f"coalesce(sum(n) FILTER (WHERE bucket = {index}), 0)" for index in range(BUCKETS))
    )
    params: dict[str, Any] = {
        "tenant": tenant.pk, "start": start, "end": end, "now": timezone.now(),
        "no_buckets": json.dumps([0] * BUCKETS), "bounds": list(BUCKET_BOUNDS_MS),
    }  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        _tenant_span_lock(cursor, tenant)
        # Rollups are derived and rebuilt from raw rows; WAL order still keeps the watermark behind them.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # The planner's row estimates for the grouped CTEs are far too high, which makes PostgreSQL JIT-compile the
        # statement: a second of compiling for half a second of work, on every span.
        cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
        [(session_jit, _)] = cursor.fetchall()
        # The span groups its messages per member: in 4 MB (the default) a month of them spills to disk.
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.KPI_REBUILD_WORK_MEM])
        for model in (DailyRollup, IntentRollup, IntentRevenue):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE tenant_id = %s AND day BETWEEN %s AND %s",  # noqa: S608
                [tenant.pk, first, last],
            )
        # Days are cut in the tenant's zone by casting to date in a session set to it: on every one of a year's
        # rows, that cast costs a fraction of `AT TIME ZONE 'zone'`, which resolves the zone's name row by row.
        with _transaction_settings(cursor, TimeZone=str(tenant.time_zone)):
            # The planner takes every row of a year for its own group (a day cut from a timestamp that is nearly
            # unique), so it expects the grouping to spill and the parallel scan to hand over too many rows, and
            # reads the year in one process. Its real result fits work_mem: workers scan, the leader groups
            # (9.4 -> 7.0 s for a year's 20M messages). A few days still take an index scan in one process.
            # A click's or conversion's interaction is looked up by primary key: hashing a year of them, the planner
            # would read every interaction of every tenant to find theirs (4.5 s where the lookups take 1.0).
            # Over a month and more, compiling the scans' expressions pays for itself (a year's messages: 6.5 -> 5.8 s);
            # for the few days of an hourly run it costs more than it saves.
            jit = session_jit if last - first >= JIT_MIN_SPAN else "off"
            with _transaction_settings(
                cursor, parallel_tuple_cost="0", enable_sort="off", enable_hashjoin="off", enable_mergejoin="off",
                jit=jit,
            ):  # fmt: skip
                for grouping in _RANGE_GROUPED_SQL:
                    cursor.execute(grouping.format(**tables), params)
            cursor.execute(statement, params)
            rollup_rows, *_others = cursor.fetchone()
            cursor.execute(_RANGE_GROUPED_DROP_SQL)
        _member_derived_rebuild(tenant=tenant, first=first, last=last)
        _funnel_rollups_rebuild(tenant=tenant, first=first, last=last)
    return int(rollup_rows)


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


def kpi_funnel_days_touched(*, tenant: Tenant, since: datetime) -> set[date]:
    """The tenant-local days of the clicks that gained a conversion since `since`: their funnel rollups are stale,
    and a conversion may come weeks after its click, long after the click's day was rolled up."""
    converted = Conversion.objects.filter(tenant=tenant, created_at__gte=since, human_click_at__isnull=False)
    return _local_days(converted, field_name="human_click_at", zone=tenant.time_zone)


def _funnel_days_rebuild(*, tenant: Tenant, first: date, last: date) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                _tenant_span_lock(cursor, tenant)
        _funnel_rollups_rebuild(tenant=tenant, first=first, last=last)


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


def day_spans(days: Iterable[date], *, max_days: int) -> Iterator[tuple[date, date]]:
    """Runs of consecutive days, each at most `max_days` long: the unit rebuilt in one transaction.

    Long spans are the fast way through a history: a year is one sequential pass over each raw table, where month
    spans were twelve index range scans over the same rows (48 s of statements against 27 s for 20M messages).
    What a span costs is a transaction that long and, past work_mem, temporary disk for the member-day grouping
    (280 MB a year at 730k member-days); KPI_REBUILD_SPAN_DAYS bounds both."""
    span: list[date] = []
    for day in sorted(days):
        if span and (day != span[-1] + timedelta(days=1) or len(span) >= max_days):
            yield span[0], span[-1]
            span = []
        span.append(day)
    if span:
        yield span[0], span[-1]


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
    windows = attribution_windows(tenant=tenant)
    funnel_days: set[date] = set()
    if not full:
        assert watermark is not None
        if any(windows.get(source, cut_with) != cut_with for source, cut_with in watermark.funnel_windows.items()):
            funnel_days = set(kpi_days_with_data(tenant=tenant))  # a window changed: every day's funnel with it
        else:
            funnel_days = kpi_funnel_days_touched(tenant=tenant, since=watermark.read_through - WATERMARK_OVERLAP)
        funnel_days -= set(days)  # rebuilt whole below
    if full:
        # Days cut in another zone never line up with the new ones: nothing of the old rollups is kept.
        with transaction.atomic():
            for model in KPI_DERIVED_MODELS:
                model.objects.filter(tenant=tenant).delete()
    rows = done = 0
    for first, last in day_spans(days, max_days=settings.KPI_REBUILD_SPAN_DAYS):
        rows += kpi_days_rebuild(tenant=tenant, first=first, last=last)
        done += (last - first).days + 1
        if progress:
            progress(done, len(days))
    for first, last in day_spans(funnel_days, max_days=settings.KPI_REBUILD_SPAN_DAYS):
        _funnel_days_rebuild(tenant=tenant, first=first, last=last)
    AggregationWatermark.objects.update_or_create(
        tenant=tenant,
        defaults={"read_through": run_started, "time_zone": str(tenant.time_zone), "funnel_windows": windows},
    )
    if full and connection.vendor == "postgresql" and not connection.in_atomic_block:
        # A full rebuild rewrites a tenant's share of these tables at once; until autovacuum catches up the planner
        # would read the KPI queries with the old statistics and pick scans that take ten times longer, index-only
        # reads would visit the heap for every row (VACUUM sets the visibility map they skip it with), and reads of
        # the member-years would scan the rows the rebuild replaced (3.4 ms after VACUUM, 10.6 before, one year).
        with connection.cursor() as cursor:
            for model in KPI_DERIVED_MODELS:
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
    report = AggregationReport(tenant=tenant.slug, days=len(days), rows=rows, full=full)
    logger.info("kpis aggregated", extra=vars(report))
    # The dashboards being looked at are computed for this run now, before anyone asks for them again.
    from analytics.figure_cache import figures_refresh_viewed  # its figure sets read through this module

    figures_refresh_viewed(tenant=tenant)
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
