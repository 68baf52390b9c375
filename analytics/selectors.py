"""KPI reads: totals, the previous period and a gap-free series, from the rollup tables only.

A bounded number of queries for any range: the range's rollup rows summed by the database per period, and the
previous period's summed whole (a year is 53 rows by week, not 1,500 rollup rows decoded and added up in Python);
distinct active members overall by one read of the scope's member-years (a byte per day of the year); per period
from the counts the rebuild stores for whole days, weeks and months, and live for the at most two periods the range's
ends cut through. Every figure is exact.
"""

import json
import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    F,
    Field,
    Func,
    IntegerField,
    JSONField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncMonth, TruncWeek

from analytics.histogram import BUCKETS, histogram_percentile
from analytics.models import (
    ActiveMembers,
    AggregationWatermark,
    DailyRollup,
    FunnelRollup,
    IntentRevenue,
    IntentRollup,
    MemberFirstDay,
    MemberYear,
)
from analytics.periods import period_end, periods_between
from groups.models import Member
from groups.selectors import member_list
from monetization.models import Conversion, MonetizationSource
from tenants.models import Tenant

COUNTERS = ("messages", "interactions", "unhandled", "replies", "clicks", "conversions", "purchases")


@dataclass(frozen=True)
class KpiScope:
    """What the figures are about: a tenant, optionally one bot or one group (a bot has exactly one group)."""

    tenant: Tenant
    bot_id: Any = None
    group_id: Any = None


def _rollups(
    scope: KpiScope,
    start: date,
    end: date,
    *,
    model: type[DailyRollup | IntentRollup | IntentRevenue | FunnelRollup] = DailyRollup,
) -> QuerySet[Any]:
    """The scope's rows of a day-keyed rollup table (daily, intent, intent revenue, funnel) for start..end."""
    rows = model.objects.for_tenant(scope.tenant).filter(day__gte=start, day__lte=end)
    if scope.bot_id is not None:
        rows = rows.filter(bot_id=scope.bot_id)
    if scope.group_id is not None:
        rows = rows.filter(group_id=scope.group_id)
    return rows


def scope_members(scope: KpiScope, *, group_id: Any = None) -> QuerySet[Member]:
    """The tenant's members, or one group's: what the per-member probes (active, engaged) walk."""
    members = member_list(tenant=scope.tenant)
    return members if group_id is None else members.filter(group_id=group_id)


def year_day_offset(day: date) -> int:
    """Where `day` sits in its year's member-year bytes (0 for the 1st of January)."""
    return day.timetuple().tm_yday - 1


class _FirstActiveByte(Func):
    """The 1-based position of the first b"1" in SUBSTRING(days, from, for), 0 when there is none: a byte search,
    so neither backend counts characters."""

    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = "POSITION('\\x31'::bytea IN SUBSTRING(%(expressions)s))"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="INSTR(SUBSTR(%(expressions)s), X'31')", **extra_context)


def _year_bounds(start: date, end: date) -> dict[int, tuple[int, int]]:
    """For each year start..end reaches: the 1-based position of its first day of the range in the year's bytes, and
    how many of its days the range holds."""
    clipped = {
        year: (max(start, date(year, 1, 1)), min(end, date(year, 12, 31))) for year in range(start.year, end.year + 1)
    }
    return {year: (year_day_offset(first) + 1, (last - first).days + 1) for year, (first, last) in clipped.items()}


def active_day_position(start: date, end: date) -> Func:
    """On member-year rows: above 0 when the member was active on a day of start..end. A row of a year the range
    does not reach searches nothing: the rows read may span more years than this range does."""
    bounds = _year_bounds(start, end)
    positions = Case(*[When(year=year, then=Value(position)) for year, (position, _) in bounds.items()], default=1)
    lengths = Case(*[When(year=year, then=Value(length)) for year, (_, length) in bounds.items()], default=0)
    return _FirstActiveByte("days", positions, lengths)


def _active_byte_found_sql(days: str, position: str, length: str, *, vendor: str) -> str:
    """SQL true where SUBSTRING(days, position, length) holds a b"1" (arguments are SQL expressions)."""
    if vendor == "postgresql":
        return f"POSITION('\\x31'::bytea IN SUBSTRING({days}, {position}, {length})) > 0"
    return f"INSTR(SUBSTR({days}, {position}, {length}), X'31') > 0"


def _day_bit_set_sql(bits: str, position: str, length: str, *, vendor: str) -> str:
    """SQL true where SUBSTRING(bits, position, length) of a `YearDayBits` column holds a 1."""
    if vendor == "postgresql":
        return f"POSITION(B'1' IN SUBSTRING({bits}, {position}, {length})) > 0"
    return f"INSTR(SUBSTR({bits}, {position}, {length}), '1') > 0"


def _active_in_range_sql(start: date, end: date, *, vendor: str) -> str:
    """SQL true on a member-year row whose member was active on a day of start..end; a row of a year the range does
    not reach searches nothing. Every value in it is an integer computed here, so it is inlined, not bound."""
    bounds = _year_bounds(start, end)
    position = " ".join(f"WHEN {year:d} THEN {first:d}" for year, (first, _) in bounds.items())
    length = " ".join(f"WHEN {year:d} THEN {days:d}" for year, (_, days) in bounds.items())
    return _active_byte_found_sql(
        "days", f"CASE year {position} ELSE 1 END", f"CASE year {length} ELSE 0 END", vendor=vendor
    )


def distinct_active_members_in_ranges(
    scope: KpiScope, ranges: Iterable[tuple[date, date]], *, group_id: Any
) -> list[int]:
    """Members with at least one member-day in each (start, end), in one statement over the scope's member-years of
    the years the ranges reach (`group_id` may be a subquery of group ids).

    Written as SQL: the ORM took ~9 ms of Python to build this statement (a CASE per year in each range, the
    aggregate over a grouped subquery), twice what PostgreSQL takes to run it, on every figure set's reports."""
    ranges = list(ranges)
    tests = [_active_in_range_sql(start, end, vendor=connection.vendor) for start, end in ranges]
    tenant_field, group_field = MemberYear._meta.get_field("tenant"), MemberYear._meta.get_field("group")
    where = "tenant_id = %s AND year >= %s AND year <= %s"
    params: list[Any] = [
        tenant_field.get_db_prep_value(scope.tenant.pk, connection),
        min(start.year for start, _ in ranges),
        max(end.year for _, end in ranges),
    ]
    if isinstance(group_id, QuerySet):
        subquery, subquery_params = group_id.query.sql_with_params()
        where += f" AND group_id IN ({subquery})"
        params += subquery_params
    elif group_id is not None:
        where += " AND group_id = %s"
        params.append(group_field.get_db_prep_value(group_id, connection))
    table = connection.ops.quote_name(MemberYear._meta.db_table)
    if all(start.year == end.year for start, end in ranges):  # one row per member and range
        counts = ", ".join(f"COUNT(CASE WHEN {test} THEN 1 END)" for test in tests)
        sql = f"SELECT {counts} FROM {table} WHERE {where}"  # noqa: S608 - no value of a user's in the text
    else:  # a member has a row per year: one group per member, then count (hashing beats COUNT DISTINCT's sorts)
        per_member = ", ".join(f"MAX(CASE WHEN {test} THEN 1 ELSE 0 END) AS range_{i}" for i, test in enumerate(tests))
        sums = ", ".join(f"COALESCE(SUM(range_{i}), 0)" for i in range(len(tests)))
        sql = f"SELECT {sums} FROM (SELECT {per_member} FROM {table} WHERE {where} GROUP BY member_id) AS per_member"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [int(count) for count in cursor.fetchone()]


def distinct_active_members_by_group(
    *, tenant: Tenant, ranges: list[tuple[date, date]], by_cohort: bool = False, engaged: bool = False
) -> dict[tuple[Any, ...], int]:
    """(index in `ranges`, group id) -> members of that group active on a day of that range, for every pair with
    any: one statement over the tenant's member-years of the years the ranges reach, however many ranges. With
    `by_cohort`, the keys also hold the week (its Monday) of each member's first active day (members without one
    are not counted). With `engaged`, only days with an interaction count (the member-years' `interaction_days`).

    The ranges are rows of a VALUES list (one per range and year it reaches), joined to the member-years by year and
    tested by a byte search each. Within one year a member has one row, so the matches are counted as they are; only
    a range across New Year (a member's two rows) counts distinct members, which over every range would hash a row
    per member and range. A member belongs to one group, so its rows agree on the group."""
    if not ranges:
        return {}
    ops = connection.ops
    table = ops.quote_name(MemberYear._meta.db_table)
    keys, join, key_params = "m.group_id", "", ()
    if by_cohort:
        cohort_sql, key_params = ops.date_trunc_sql("week", "f.day", ())
        keys = f"m.group_id, {cohort_sql}"
        join = f"JOIN {ops.quote_name(MemberFirstDay._meta.db_table)} f ON f.member_id = m.member_id "
    grouped = "1, 2, 3" if by_cohort else "1, 2"  # by position: the cohort's expression holds bound values
    lists: list[str] = []
    selects: list[str] = []
    for across_years, count in ((False, "COUNT(*)"), (True, "COUNT(DISTINCT m.member_id)")):
        values = ", ".join(
            f"({index:d}, {year:d}, {position:d}, {length:d})"
            for index, (start, end) in enumerate(ranges)
            if (start.year != end.year) == across_years
            for year, (position, length) in _year_bounds(start, end).items()
        )
        if not values:
            continue
        # A named list (SQLite names no columns of a VALUES subquery); PostgreSQL inlines it, row estimate and all.
        name = f"ranges_{len(lists)}"
        lists.append(f"{name} (range_index, year, position, length) AS (VALUES {values})")
        place = (f"{name}.position", f"{name}.length")
        if engaged:
            found = _day_bit_set_sql("m.interaction_days", *place, vendor=connection.vendor)
        else:
            found = _active_byte_found_sql("m.days", *place, vendor=connection.vendor)
        selects.append(
            f"SELECT {name}.range_index, {keys}, {count} FROM {table} m JOIN {name} ON {name}.year = m.year {join}"  # noqa: S608
            f"WHERE m.tenant_id = %s AND m.year >= %s AND m.year <= %s AND {found} "
            f"GROUP BY {grouped}"
        )
    # Integers computed here only; the tenant is bound.
    sql = f"WITH {', '.join(lists)} {' UNION ALL '.join(selects)}"
    bounds = [
        MemberYear._meta.get_field("tenant").get_db_prep_value(tenant.pk, connection),
        min(start.year for start, _ in ranges),
        max(end.year for _, end in ranges),
    ]
    group_field = MemberYear._meta.get_field("group")
    counts: dict[tuple[Any, ...], int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*key_params, *bounds] * len(selects))
        for index, group_id, *cohort, members in cursor.fetchall():
            # SQLite returns UUIDs as hex text, and a truncated date as text too.
            key = (int(index), group_field.to_python(group_id), *(_monday_of(value) for value in cohort))
            counts[key] = int(members)
    return counts


def _monday_of(value: date | datetime | str) -> date:
    """A week truncated in SQL: PostgreSQL's DATE_TRUNC of a date gives the Monday's midnight (in the session's
    zone, UTC, so its date is the Monday), SQLite's Django function the date as text."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value


def _cut_periods(start: date, end: date, granularity: str) -> dict[date, tuple[date, date]]:
    """The at most two weeks or months the range's ends cut through, each with its days inside the range."""
    periods = periods_between(start, end, granularity)
    cut = {}
    for period in (periods[0], periods[-1]):
        first, last = max(period, start), min(period_end(period, granularity), end)
        if (first, last) != (period, period_end(period, granularity)):
            cut[period] = (first, last)
    return cut


def _stored_active_members(
    scope: KpiScope, start: date, end: date, granularity: str, *, group_id: Any
) -> dict[date, int]:
    """Each whole period's distinct active members, from the counts the rebuild stored."""
    periods = periods_between(start, end, granularity)
    stored = ActiveMembers.objects.for_tenant(scope.tenant).filter(
        granularity=granularity, period__gte=periods[0], period__lte=periods[-1]
    )
    if group_id is not None:
        stored = stored.filter(group_id=group_id)
    return dict(stored.values("period").annotate(n=Sum("members")).values_list("period", "n"))


class _JsonArray(Aggregate):
    """A JSON column's values of a group as one JSON array: one document to decode per group, not one per row."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # json(): the stored text as a JSON value, or JSON_GROUP_ARRAY would quote it as a string.
        copy = self.copy()
        value, *rest = self.get_source_expressions()  # the rest: the aggregate's filter and ordering, if any
        copy.set_source_expressions([Func(value, function="JSON"), *rest])
        return super(_JsonArray, copy).as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


class _IntegerList(Field):  # type: ignore[type-arg]
    """A list of integers read back as it comes: PostgreSQL's integer array is a list already (psycopg parses it in
    C), SQLite's JSON array is text to decode. A year by day is 365 such lists a request, and decoding them as JSON
    cost ~15 us each."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> list[int] | None:
        decoded: list[int] | None = json.loads(value) if isinstance(value, str) else value
        return decoded


class _BucketSums(Aggregate):
    """Every bucket of a histogram column summed over the group, as one array of BUCKETS counts (a missing bucket
    counts 0). One expression rather than a Sum per bucket: Django builds it in a fraction of the time, and building
    the query is most of what a short range costs."""

    output_field = _IntegerList()

    def _column(self, compiler: Any) -> tuple[str, tuple[Any, ...]]:
        column, params = compiler.compile(self.get_source_expressions()[0])
        return column, tuple(params)

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        column, params = self._column(compiler)
        sums = ", ".join(f"COALESCE(SUM(({column} ->> {index})::integer), 0)" for index in range(BUCKETS))
        return f"ARRAY[{sums}]::bigint[]", params * BUCKETS

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        column, params = self._column(compiler)
        sums = ", ".join(f"COALESCE(SUM(JSON_EXTRACT({column}, '$[{index}]')), 0)" for index in range(BUCKETS))
        return f"JSON_ARRAY({sums})", params * BUCKETS


# What a span of rollup rows adds up to, summed by the database: counters, sentiment, the histograms bucket by
# bucket, and the revenue objects gathered into one array, as their currencies vary.
_SUMS: dict[str, Any] = {
    **{name: Sum(name) for name in (*COUNTERS, "sentiment_sum", "sentiment_count")},
    "buckets": _BucketSums("response_time_buckets"),
    "revenues": _JsonArray("revenue"),
}
_TRUNC = {"week": TruncWeek, "month": TruncMonth}


@dataclass
class PeriodSums:
    """What a span of rollup rows adds up to (one period, or several added with `total`)."""

    counters: dict[str, int]
    sentiment_sum: float
    sentiment_count: int
    buckets: list[int]
    revenue: dict[str, int]

    @classmethod
    def of(cls, row: dict[str, Any]) -> "PeriodSums":
        revenue: dict[str, int] = defaultdict(int)
        for amounts in row["revenues"] or ():
            for currency, amount in (amounts or {}).items():
                revenue[currency] += amount
        return cls(
            counters={name: row[name] or 0 for name in COUNTERS},
            sentiment_sum=row["sentiment_sum"] or 0.0,
            sentiment_count=row["sentiment_count"] or 0,
            buckets=row["buckets"] or [0] * BUCKETS,
            revenue=revenue,
        )

    @classmethod
    def total(cls, parts: Iterable["PeriodSums"]) -> "PeriodSums":
        total = cls(dict.fromkeys(COUNTERS, 0), 0.0, 0, [0] * BUCKETS, defaultdict(int))
        for part in parts:
            for name, value in part.counters.items():
                total.counters[name] += value
            total.sentiment_sum += part.sentiment_sum
            total.sentiment_count += part.sentiment_count
            total.buckets = [mine + theirs for mine, theirs in zip(total.buckets, part.buckets, strict=True)]
            for currency, amount in part.revenue.items():
                total.revenue[currency] += amount
        return total

    def figures(self, active_members: int) -> dict[str, Any]:
        totals: dict[str, Any] = dict(self.counters)
        totals.update(
            active_members=active_members,
            conversion_rate=round(totals["purchases"] / totals["interactions"], 4) if totals["interactions"] else 0,
            revenue=dict(sorted(self.revenue.items())),
            response_time_p50_ms=histogram_percentile(self.buckets, 0.50),
            response_time_p95_ms=histogram_percentile(self.buckets, 0.95),
            sentiment_avg=round(self.sentiment_sum / self.sentiment_count, 4) if self.sentiment_count else 0,
        )
        return totals


@dataclass(frozen=True)
class RollupSums:
    """A range's daily rollups summed per day, week or month, and the previous period's (as long, just before)
    summed whole: what the KPI report is shaped from, and on the analytics page the sentiment trend and the funnel's
    clicks too, read once."""

    start: date
    end: date
    granularity: str
    previous_start: date
    by_period: dict[date, PeriodSums]
    previous: PeriodSums

    @property
    def total(self) -> PeriodSums:
        return PeriodSums.total(self.by_period.values())


def rollup_sums(*, scope: KpiScope, start: date, end: date, granularity: str) -> RollupSums:
    """One grouped query: a year is 53 rows by week, and one more for the previous period."""
    previous_start = start - timedelta(days=(end - start).days + 1)
    trunc = _TRUNC.get(granularity)
    # Cast: inside CASE, PostgreSQL's DATE_TRUNC keeps its timestamp type, and Trunc's own conversion to a date
    # does not apply there.
    period = Cast(trunc("day"), DateField()) if trunc else F("day")
    # The previous period's rows fall in the group whose period is null: no period of the range is.
    rows = _rollups(scope, previous_start, end).annotate(
        period=Case(When(day__lt=start, then=Value(None)), default=period, output_field=DateField())
    )
    sums = {row["period"]: PeriodSums.of(row) for row in rows.order_by().values("period").annotate(**_SUMS)}
    previous = sums.pop(None, None) or PeriodSums.total(())
    return RollupSums(
        start=start, end=end, granularity=granularity, previous_start=previous_start, by_period=sums,
        previous=previous,
    )  # fmt: skip


def kpi_report(
    *,
    scope: KpiScope,
    start: date,
    end: date,
    granularity: str,
    group_of_bot: Any = None,
    sums: RollupSums | None = None,
) -> dict[str, Any]:
    """`totals` and `previous` (the same figures for the equally long period just before) and `series` (one entry
    per day, week or month, zeros where nothing happened). `group_of_bot` narrows active members for a bot; `sums`
    are the range's rollup sums when the caller read them already (`rollup_sums` of the same arguments)."""
    member_group = scope.group_id if scope.group_id is not None else group_of_bot
    if sums is None:
        sums = rollup_sums(scope=scope, start=start, end=end, granularity=granularity)
    previous_start, previous_end = sums.previous_start, start - timedelta(days=1)

    # The range, the previous period and the periods the range's ends cut through are counted live, in one
    # statement; whole periods come from the stored counts.
    cut = _cut_periods(start, end, granularity)
    active, previous_active, *cut_active = distinct_active_members_in_ranges(
        scope, [(start, end), (previous_start, previous_end), *cut.values()], group_id=member_group
    )
    active_by_period = {
        **_stored_active_members(scope, start, end, granularity, group_id=member_group),
        **dict(zip(cut, cut_active, strict=True)),
    }

    nothing = PeriodSums.total(())
    series = [
        {"period": period.isoformat(), **sums.by_period.get(period, nothing).figures(active_by_period.get(period, 0))}
        for period in periods_between(start, end, granularity)
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "granularity": granularity,
        "totals": sums.total.figures(active),
        "previous": {
            "start": previous_start.isoformat(),
            "end": previous_end.isoformat(),
            **sums.previous.figures(previous_active),
        },
        "series": series,
    }


# --- The conversion funnel's conversions ------------------------------------------------------------------------

FUNNEL_STEPS: tuple[str, ...] = (
    Conversion.Outcome.SIGNUP.value,
    Conversion.Outcome.CHECKOUT.value,
    Conversion.Outcome.PURCHASE.value,
)


def attribution_windows(*, tenant: Tenant) -> dict[str, int]:
    """Source id -> its attribution window in days, for each of the tenant's sources."""
    sources = MonetizationSource.objects.for_tenant(tenant).values_list("pk", "attribution_window_days")
    return {str(source_id): days for source_id, days in sources}


def _within_window(window_days: int | None, windows: dict[str, int]) -> Q:
    """A conversion at most the window after its click. With no fixed window, each conversion's source's own: one
    branch per distinct window the tenant uses, naming its sources (a per-row interval, days x 1 day, is not
    portable, and a join to the sources misleads PostgreSQL's estimates into a probe per conversion)."""
    clicked_at = F("human_click_at")
    if window_days is not None:
        return Q(occurred_at__lte=clicked_at + timedelta(days=window_days))
    sources_by_window: dict[int, list[str]] = defaultdict(list)
    for source_id, days in windows.items():
        sources_by_window[days].append(source_id)
    branches = [
        Q(source_id__in=sources, occurred_at__lte=clicked_at + timedelta(days=days))
        for days, sources in sorted(sources_by_window.items())
    ]
    return reduce(operator.or_, branches, Q(pk__in=[]))  # no source: no conversion either


def funnel_conversions(
    *, tenant: Tenant, since: datetime, until: datetime, window_days: int | None = None
) -> QuerySet[Conversion]:
    """The conversions the funnel of the human clicks made in [since, until) counts: attributed to such a click, of
    a funnel step's outcome, within the window (`window_days`, or by default each source's own).

    Conversions carry their human click's time (`human_click_at`, copied at attribution): an index range over the
    range's converted clicks, without reading every click of the range. A conversion whose click was since deleted
    with its link is not counted."""
    windows = attribution_windows(tenant=tenant) if window_days is None else {}
    return (
        Conversion.objects.for_tenant(tenant)
        .filter(
            human_click_at__gte=since, human_click_at__lt=until, attributed_click__isnull=False,
            outcome__in=FUNNEL_STEPS,
        )
        .filter(_within_window(window_days, windows))
    )  # fmt: skip


def funnel_reached() -> dict[str, Count]:
    """Step -> the distinct clicks with a conversion of that step or a later one (a purchase passed checkout even
    when the shop reports only purchases), so the counts never grow down the funnel."""
    return {
        step: Count("attributed_click_id", distinct=True, filter=Q(outcome__in=FUNNEL_STEPS[index:]))
        for index, step in enumerate(FUNNEL_STEPS)
    }


def intent_ranking(*, scope: KpiScope, start: date, end: date, limit: int) -> list[dict[str, Any]]:
    """The `limit` intents with the most interactions in the range (ties by name; "" is no rule's intent) with
    their unhandled count and share and their sentiment sum: one grouped query over the intent rollups (pages that
    show no money use it as it is; `insights.top_intents` adds the money)."""
    ranked = (
        _rollups(scope, start, end, model=IntentRollup)
        .values("intent")
        .annotate(interactions=Sum("interactions"), unhandled=Sum("unhandled"), sentiment_sum=Sum("sentiment_sum"))
        .filter(interactions__gt=0)
        .order_by("-interactions", "intent")[:limit]
    )
    return [{**row, "unhandled_share": round(row["unhandled"] / row["interactions"], 4)} for row in ranked]


@dataclass(frozen=True)
class KpiRun:
    """The tenant's last KPI run: rows written before `read_through` are in the figures; `marked_at` changes with
    every run and every rebuild (the watermark row's `updated_at`), so it names the state of the rollups."""

    read_through: datetime
    marked_at: datetime


def kpi_last_run(*, tenant: Tenant) -> KpiRun | None:
    """None before the first aggregation run. The dashboard shows `read_through` ("figures as of"), so lagging
    figures are never mistaken for live ones, and keys the figures it keeps by `marked_at`."""
    row = AggregationWatermark.objects.filter(tenant=tenant).values_list("read_through", "updated_at").first()
    return KpiRun(read_through=row[0], marked_at=row[1]) if row else None
