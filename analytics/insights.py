"""The analytics beyond the KPI table: active members, retention cohorts, the conversion funnel, top intents, the
sentiment trend and community economics.

Every selector takes a `KpiScope` (tenant, optionally a bot or a group) and inclusive dates in the tenant's time
zone, and answers in a fixed number of aggregate queries, however much data the tenant has. Figures come from
what the KPI job keeps (member-years with their active and interaction days, retention cells, daily, intent and
funnel rollups); what no rollup holds is read from raw rows by index: the funnel for a fixed window from the
conversions attributed to the range's clicks, and a bot's engaged members by one probe per member. Other member
figures for a bot are those of the bot's group (a bot has exactly one group).

Money is never added across currencies; ratios of money are in minor units, rounded to two decimals.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from django.db.models import Count, DateField, Exists, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth, TruncWeek

from analytics.models import AggregationWatermark, FunnelRollup, IntentRevenue, IntentRollup, RetentionCell
from analytics.periods import period_start, periods_between
from analytics.selectors import (
    FUNNEL_STEPS,
    KpiScope,
    RollupSums,
    _JsonArray,
    _rollups,
    distinct_active_members_by_group,
    distinct_active_members_in_ranges,
    funnel_conversions,
    funnel_reached,
    intent_ranking,
    scope_members,
)
from analytics.services import day_bounds
from bots.models import Interaction
from bots.selectors import bot_list
from groups.selectors import group_list
from monetization.models import Conversion

UNATTRIBUTED = "unattributed"


# --- Scoping -----------------------------------------------------------------------------------------------------


def _instants(scope: KpiScope, start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in the tenant's zone: an index range, DST-exact."""
    zone = scope.tenant.time_zone
    return day_bounds(day=start, zone=zone)[0], day_bounds(day=end, zone=zone)[1]


def _member_groups(scope: KpiScope) -> Any:
    """The group whose members a scope counts (a bot's by a subquery, which costs no query of its own), or None."""
    if scope.group_id is not None:
        return scope.group_id
    if scope.bot_id is not None:
        return bot_list(tenant=scope.tenant).filter(pk=scope.bot_id).values("group_id")
    return None


def _interactions(scope: KpiScope, start: date, end: date) -> QuerySet[Interaction]:
    since, until = _instants(scope, start, end)
    rows = Interaction.objects.for_tenant(scope.tenant).filter(occurred_at__gte=since, occurred_at__lt=until)
    if scope.bot_id is not None:
        rows = rows.filter(bot_id=scope.bot_id)
    if scope.group_id is not None:
        rows = rows.filter(group_id=scope.group_id)
    return rows


def _through_interaction(rows: QuerySet[Any], scope: KpiScope) -> QuerySet[Any]:
    """Clicks or conversions narrowed to a bot or group by the interaction they are attributed to."""
    if scope.bot_id is not None:
        rows = rows.filter(interaction__bot_id=scope.bot_id)
    if scope.group_id is not None:
        rows = rows.filter(interaction__group_id=scope.group_id)
    return rows


def _conversions(scope: KpiScope, start: date, end: date) -> QuerySet[Conversion]:
    """Conversions placed by when they occurred, as in the ledger and the KPI revenue, so the figures add up."""
    since, until = _instants(scope, start, end)
    rows = Conversion.objects.for_tenant(scope.tenant).filter(occurred_at__gte=since, occurred_at__lt=until)
    return _through_interaction(rows, scope)


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0


def _money_ratio(revenue: dict[str, int], denominator: int, *, per: int = 1) -> dict[str, float] | None:
    """Minor units per `per` of something, per currency; None when there is nothing to divide by."""
    if not denominator:
        return None
    return {currency: round(amount * per / denominator, 2) for currency, amount in sorted(revenue.items())}


def _as_date(value: date | datetime) -> date:
    # TruncWeek/TruncMonth of a date column come back as datetimes on some backends.
    return value.date() if isinstance(value, datetime) else value


# --- Active members ----------------------------------------------------------------------------------------------


class ActiveMembers(TypedDict):
    end: date
    dau: int
    wau: int
    wau_start: date
    mau: int
    mau_start: date
    stickiness: float


def active_members_rolling(*, scope: KpiScope, end: date) -> ActiveMembers:
    """DAU (the day `end`), WAU (the 7 days ending on it), MAU (the 30 days ending on it), counted exactly as
    distinct members in one query, and stickiness DAU/MAU. A member is one person in one group."""
    wau_start, mau_start = end - timedelta(days=6), end - timedelta(days=29)
    dau, wau, mau = distinct_active_members_in_ranges(
        scope, [(end, end), (wau_start, end), (mau_start, end)], group_id=_member_groups(scope)
    )
    return ActiveMembers(
        end=end,
        dau=dau,
        wau=wau,
        wau_start=wau_start,
        mau=mau,
        mau_start=mau_start,
        stickiness=_share(dau, mau),
    )


# --- Retention cohorts -------------------------------------------------------------------------------------------


class RetentionWeek(TypedDict):
    offset: int
    week: date
    active: int | None
    share: float | None


class RetentionCohort(TypedDict):
    cohort: date
    size: int
    weeks: list[RetentionWeek]


class Retention(TypedDict):
    start: date
    end: date
    weeks: int
    cohorts: list[RetentionCohort]


def retention_cohorts(*, scope: KpiScope, start: date, end: date, weeks: int = 8) -> Retention:
    """One row per ISO week from the week holding `start` to the week holding `end`: the members whose first
    active day (their earliest member-day, in all history) falls in that week, and for week offsets 0..`weeks` the
    share of them active (any member-day) in that week. Weeks that begin after `end` are not observed: null.

    One query over the cells the KPI job keeps (cohort x week x group), summed over the scope's groups: a year of
    cohorts is a few hundred rows, whatever the number of member-days.
    """
    first_week = period_start(start, "week")
    cells = RetentionCell.objects.for_tenant(scope.tenant).filter(
        cohort__gte=first_week, cohort__lte=end, weeks_after__lte=weeks, week__lte=end
    )
    if scope.group_id is not None:
        cells = cells.filter(group_id=scope.group_id)
    if scope.bot_id is not None:
        cells = cells.filter(group_id__in=bot_list(tenant=scope.tenant).filter(pk=scope.bot_id).values("group_id"))
    active: dict[tuple[date, int], int] = {
        (cohort, weeks_after): members
        for cohort, weeks_after, members in cells.values("cohort", "weeks_after")
        .annotate(members=Sum("members"))
        .values_list("cohort", "weeks_after", "members")
        .order_by()
    }
    cohorts: list[RetentionCohort] = []
    for cohort in periods_between(first_week, end, "week"):
        size = active.get((cohort, 0), 0)  # every member is active in the week of their first active day
        offsets: list[RetentionWeek] = []
        for offset in range(weeks + 1):
            week = cohort + timedelta(weeks=offset)
            if week > end:
                offsets.append(RetentionWeek(offset=offset, week=week, active=None, share=None))
            else:
                count = active.get((cohort, offset), 0)
                offsets.append(RetentionWeek(offset=offset, week=week, active=count, share=_share(count, size)))
        cohorts.append(RetentionCohort(cohort=cohort, size=size, weeks=offsets))
    return Retention(start=start, end=end, weeks=weeks, cohorts=cohorts)


# --- The conversion funnel ---------------------------------------------------------------------------------------


class FunnelStep(TypedDict):
    step: str
    reached: int
    conversions: int
    rate: float | None
    rate_from_clicks: float


class Funnel(TypedDict):
    start: date
    end: date
    window_days: int | None
    steps: list[FunnelStep]
    purchase_revenue: dict[str, int]


# Clicks reaching each step, conversions of each outcome, purchase money per currency.
_FunnelCounts = tuple[dict[str, int], dict[str, int], dict[str, int]]


def _funnel_of_rollups(scope: KpiScope, start: date, end: date) -> _FunnelCounts:
    """The funnel's counts summed from the funnel rollups of the range's days: one query, where counting them from
    the conversions read every one attributed to the range's clicks (two scans of 8k conversions for a year of the
    dashboard bench's big tenant)."""
    sums = _rollups(scope, start, end, model=FunnelRollup).aggregate(
        **{f"{step}s_reached": Sum(f"{step}s_reached", default=0) for step in FUNNEL_STEPS},
        **{f"{step}s": Sum(f"{step}s", default=0) for step in FUNNEL_STEPS},
        revenues=_JsonArray("purchase_revenue"),
    )
    purchase_revenue: dict[str, int] = defaultdict(int)
    for amounts in sums["revenues"] or ():
        for currency, amount in amounts.items():
            purchase_revenue[currency] += amount
    reached = {step: sums[f"{step}s_reached"] for step in FUNNEL_STEPS}
    return reached, {step: sums[f"{step}s"] for step in FUNNEL_STEPS}, purchase_revenue


def _funnel_of_conversions(scope: KpiScope, start: date, end: date, window_days: int) -> _FunnelCounts:
    """The same figures counted from the conversions, for a window no rollup keeps: only of clicks made before the
    last KPI run read through, as the rollups are."""
    tenant = scope.tenant
    since, until = _instants(scope, start, end)
    converted = funnel_conversions(tenant=tenant, since=since, until=until, window_days=window_days).filter(
        human_click_at__lt=Subquery(AggregationWatermark.objects.filter(tenant=tenant).values("read_through"))
    )
    # The conversion's interaction is its click's (attribution takes both from the click).
    if scope.bot_id is not None:
        converted = converted.filter(interaction__bot_id=scope.bot_id)
    if scope.group_id is not None:
        converted = converted.filter(interaction__group_id=scope.group_id)
    reached = converted.aggregate(**funnel_reached())
    events = converted.values("outcome", "currency").annotate(n=Count("pk"), amount=Sum("amount", default=0)).order_by()
    per_outcome: dict[str, int] = defaultdict(int)
    purchase_revenue: dict[str, int] = defaultdict(int)
    for row in events:
        per_outcome[row["outcome"]] += row["n"]
        if row["outcome"] == Conversion.Outcome.PURCHASE:
            purchase_revenue[row["currency"]] += row["amount"]
    return reached, per_outcome, purchase_revenue


def conversion_funnel(
    *, scope: KpiScope, start: date, end: date, window_days: int | None = None, clicked: int | None = None
) -> Funnel:
    """Human clicks made in the range, then how many of them led to a signup, a checkout and a purchase (the
    conversion attributed to the click, within the window, whenever that was, even after `end`).

    A step is reached by a click with a conversion of that step or a later one (a purchase passed checkout even
    when the shop reports only purchases), so the counts never grow down the funnel; `conversions` counts the
    reported events of each outcome. With each source's own window (no `window_days`), two queries over what the
    KPI job keeps (the funnel rollups of the range's days); with a fixed window, three, the conversions counted.

    The clicks are the daily rollups' (the KPI report's clicks: a sum of days, where counting a year's clicks
    read every one of them), so the funnel is as of the tenant's last KPI run, like every figure beside it: it
    counts conversions of clicks made before that run read through, as that run saw them, and nothing before the
    first run. `clicked` is that sum when the caller read it already (the KPI report's `clicks` of the same range).
    """
    if clicked is None:
        clicked = _rollups(scope, start, end).aggregate(clicks=Sum("clicks", default=0))["clicks"]
    if window_days is None:
        reached, per_outcome, purchase_revenue = _funnel_of_rollups(scope, start, end)
    else:
        reached, per_outcome, purchase_revenue = _funnel_of_conversions(scope, start, end, window_days)

    steps = [
        FunnelStep(
            step="click", reached=clicked, conversions=clicked, rate=None, rate_from_clicks=_share(clicked, clicked)
        )
    ]
    for step in FUNNEL_STEPS:
        steps.append(
            FunnelStep(
                step=step,
                reached=reached[step],
                conversions=per_outcome.get(step, 0),
                rate=_share(reached[step], steps[-1]["reached"]),
                rate_from_clicks=_share(reached[step], clicked),
            )
        )
    return Funnel(
        start=start,
        end=end,
        window_days=window_days,
        steps=steps,
        purchase_revenue=dict(sorted(purchase_revenue.items())),
    )


# --- Intents -----------------------------------------------------------------------------------------------------


class IntentRow(TypedDict):
    intent: str
    interactions: int
    unhandled: int
    unhandled_share: float
    sentiment_avg: float
    purchases: int
    revenue: dict[str, int]


def _intent_rollups(scope: KpiScope, start: date, end: date) -> QuerySet[IntentRollup]:
    return _rollups(scope, start, end, model=IntentRollup)


def _intent_row(
    *,
    intent: str,
    interactions: int,
    unhandled: int,
    sentiment_sum: float | None,
    purchases: int,
    revenue: dict[str, int],
) -> IntentRow:
    return IntentRow(
        intent=intent,
        interactions=interactions,
        unhandled=unhandled,
        unhandled_share=_share(unhandled, interactions),
        sentiment_avg=round((sentiment_sum or 0) / interactions, 4),
        purchases=purchases,
        revenue=dict(sorted(revenue.items())),
    )


def top_intents(*, scope: KpiScope, start: date, end: date, limit: int = 10) -> list[IntentRow]:
    """The `limit` intents with the most interactions in the range (ties by name; "" is no rule's intent), with
    their unhandled share, average sentiment, and the purchases and net revenue of conversions in the range
    attributed to interactions of that intent. Two grouped queries over the intent rollups, so a year costs what a
    week does."""
    ranked = intent_ranking(scope=scope, start=start, end=end, limit=limit)
    money: dict[str, tuple[int, dict[str, int]]] = {}
    earned = (
        _rollups(scope, start, end, model=IntentRevenue)
        .filter(intent__in=[row["intent"] for row in ranked])
        .values("intent", "currency")
        .annotate(purchases=Sum("purchases"), net=Sum("net"))
        .order_by()
    )
    for intent, currency, purchases, net in earned.values_list("intent", "currency", "purchases", "net"):
        counted, revenue = money.get(intent, (0, {}))
        money[intent] = (counted + purchases, {**revenue, currency: net})
    rows: list[IntentRow] = []
    for row in ranked:
        purchases, revenue = money.get(row["intent"], (0, {}))
        rows.append(
            _intent_row(
                intent=row["intent"],
                interactions=row["interactions"],
                unhandled=row["unhandled"],
                sentiment_sum=row["sentiment_sum"],
                purchases=purchases,
                revenue=revenue,
            )
        )
    return rows


@dataclass(frozen=True)
class IntentFigures:
    """A range's intent rollups by group and intent (interactions, unhandled, sentiment sum) and its intent revenue
    by group, intent and currency: what community economics and top intents are both shaped from, read once."""

    activity: list[dict[str, Any]]
    money: list[dict[str, Any]]


def _group_name_of_row(scope: KpiScope) -> Subquery:
    """The group's name looked up once per grouped row: joining the groups before grouping carried the name
    through every day's rollup and grouped by it too, half the statement's time for a year (~10k rows)."""
    return Subquery(group_list(tenant=scope.tenant).filter(pk=OuterRef("group_id")).order_by().values("name"))


def intent_figures(*, scope: KpiScope, start: date, end: date) -> IntentFigures:
    """Two grouped queries over the intent rollups, whatever the range."""
    activity = (
        _intent_rollups(scope, start, end)
        .values("group_id", "intent")
        .annotate(interactions=Sum("interactions"), unhandled=Sum("unhandled"), sentiment_sum=Sum("sentiment_sum"))
        .filter(interactions__gt=0)
        .annotate(group_name=_group_name_of_row(scope))
        .order_by()
    )
    money = (
        _rollups(scope, start, end, model=IntentRevenue)
        .values("group_id", "intent", "currency")
        .annotate(purchases=Sum("purchases"), net=Sum("net"))
        .annotate(group_name=_group_name_of_row(scope))
        .order_by()
    )
    return IntentFigures(activity=list(activity), money=list(money))


def top_intents_of(intents: IntentFigures, *, limit: int = 10) -> list[IntentRow]:
    """`top_intents` shaped from intent figures already read (by group and intent), with no query of its own: the
    same rows, for a page that shows community economics too. Ties are broken by name in code-point order:
    PostgreSQL's own order under a C collation (as on the machines here); under another collation, `top_intents`
    may list intents with equal counts in another order."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for row in intents.activity:
        figures = totals[row["intent"]]
        figures[0] += row["interactions"]
        figures[1] += row["unhandled"]
        figures[2] += row["sentiment_sum"] or 0.0
    active = ((intent, figures) for intent, figures in totals.items() if figures[0] > 0)
    ranked = sorted(active, key=lambda item: (-item[1][0], item[0]))[:limit]
    purchases: dict[str | None, int] = defaultdict(int)
    revenue: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in intents.money:
        purchases[row["intent"]] += row["purchases"]
        revenue[row["intent"]][row["currency"]] += row["net"]
    return [
        _intent_row(
            intent=intent,
            interactions=int(interactions),
            unhandled=int(unhandled),
            sentiment_sum=sentiment_sum,
            purchases=purchases.get(intent, 0),
            revenue=dict(revenue.get(intent, {})),
        )
        for intent, (interactions, unhandled, sentiment_sum) in ranked
    ]


# --- Sentiment and unhandled rate over time ----------------------------------------------------------------------


class SentimentFigures(TypedDict):
    interactions: int
    unhandled: int
    unhandled_rate: float | None
    sentiment_avg: float | None


class SentimentPeriod(SentimentFigures):
    period: date


class SentimentTrend(TypedDict):
    start: date
    end: date
    granularity: str
    totals: SentimentFigures
    series: list[SentimentPeriod]


def _sentiment_figures(
    interactions: int, unhandled: int, sentiment_sum: float, sentiment_count: int
) -> SentimentFigures:
    # No interactions: null, not 0, so a chart shows a gap instead of a neutral mood nobody expressed.
    return SentimentFigures(
        interactions=interactions,
        unhandled=unhandled,
        unhandled_rate=round(unhandled / interactions, 4) if interactions else None,
        sentiment_avg=round(sentiment_sum / sentiment_count, 4) if sentiment_count else None,
    )


def _sentiment_trend_of(
    by_period: dict[date, tuple[int, int, float, int]], *, start: date, end: date, granularity: str
) -> SentimentTrend:
    """The trend shaped from (interactions, unhandled, sentiment sum, sentiment count) per period."""
    columns = list(zip(*by_period.values(), strict=True)) or [(), (), (), ()]
    return SentimentTrend(
        start=start,
        end=end,
        granularity=granularity,
        totals=_sentiment_figures(sum(columns[0]), sum(columns[1]), sum(columns[2]), sum(columns[3])),
        series=[
            SentimentPeriod(period=period, **_sentiment_figures(*by_period.get(period, (0, 0, 0.0, 0))))
            for period in periods_between(start, end, granularity)
        ],
    )


def sentiment_trend(*, scope: KpiScope, start: date, end: date, granularity: str) -> SentimentTrend:
    """Average sentiment and unhandled rate per day, week or month, from the daily rollups, summed in one query;
    periods with no interactions are present with nulls."""
    sums = {
        "interactions": Sum("interactions"),
        "unhandled": Sum("unhandled"),
        "sentiment_sum": Sum("sentiment_sum"),
        "sentiment_count": Sum("sentiment_count"),
    }
    rows = _rollups(scope, start, end)
    if granularity == "day":
        per_period = rows.values(period=F("day")).annotate(**sums).order_by()
    else:
        truncate = TruncWeek if granularity == "week" else TruncMonth
        per_period = rows.annotate(period=truncate("day", output_field=DateField())).values("period")
        per_period = per_period.annotate(**sums).order_by()
    by_period = {
        _as_date(row["period"]): (
            row["interactions"] or 0, row["unhandled"] or 0, row["sentiment_sum"] or 0.0, row["sentiment_count"] or 0
        )
        for row in per_period
    }  # fmt: skip
    return _sentiment_trend_of(by_period, start=start, end=end, granularity=granularity)


def sentiment_trend_of(sums: RollupSums) -> SentimentTrend:
    """`sentiment_trend` of the range of rollup sums read already (for the KPI report beside it): no query."""
    by_period = {
        period: (part.counters["interactions"], part.counters["unhandled"], part.sentiment_sum, part.sentiment_count)
        for period, part in sums.by_period.items()
    }
    return _sentiment_trend_of(by_period, start=sums.start, end=sums.end, granularity=sums.granularity)


# --- Community economics -----------------------------------------------------------------------------------------


class EconomicsFigures(TypedDict):
    revenue: dict[str, int]
    interactions: int
    engaged_members: int
    replies: int
    revenue_per_engaged_member: dict[str, float] | None
    revenue_per_1000_replies: dict[str, float] | None


class EconomicsGroup(EconomicsFigures):
    group_id: Any
    group_name: str


class EconomicsIntent(TypedDict):
    intent: str | None
    interactions: int
    purchases: int
    revenue: dict[str, int]
    revenue_per_interaction: dict[str, float] | None


class Economics(TypedDict):
    start: date
    end: date
    totals: EconomicsFigures
    groups: list[EconomicsGroup]
    intents: list[EconomicsIntent]


def _economics_figures(revenue: dict[str, int], interactions: int, engaged: int, replies: int) -> EconomicsFigures:
    return EconomicsFigures(
        revenue=dict(sorted(revenue.items())),
        interactions=interactions,
        engaged_members=engaged,
        replies=replies,
        revenue_per_engaged_member=_money_ratio(revenue, engaged),
        revenue_per_1000_replies=_money_ratio(revenue, replies, per=1000),
    )


def community_economics(
    *, scope: KpiScope, start: date, end: date, by_intent: IntentFigures | None = None
) -> Economics:
    """Net revenue per currency per group and per intent, per engaged member (a member with at least one
    interaction in the range) and per 1,000 bot replies (interactions whose reply GroupMe accepted, as the KPI
    `replies`), in four queries whatever the range (two when `by_intent` was read already, for top intents too).

    Interactions, replies, money and engaged members come from what the KPI job keeps, like every other figure on
    the dashboard (engaged members from the member-years' interaction days). Money is placed by when the
    conversion occurred (as in the ledger), so totals equal the ledger's for the range; money no interaction earned
    is a row of its own (group and intent null), present only without a bot or group.
    """
    if by_intent is None:
        by_intent = intent_figures(scope=scope, start=start, end=end)
    replies = _rollups(scope, start, end).values("group_id").annotate(replies=Sum("replies")).order_by()
    engaged_by_group = _engaged_members_by_group(scope, start, end)

    names: dict[Any, str] = {}
    group_interactions: dict[Any, int] = defaultdict(int)
    intent_interactions: dict[str | None, int] = defaultdict(int)
    for active in by_intent.activity:
        names[active["group_id"]] = active["group_name"]
        group_interactions[active["group_id"]] += active["interactions"]
        intent_interactions[active["intent"]] += active["interactions"]
    replies_by_group = {rollup["group_id"]: rollup["replies"] or 0 for rollup in replies}
    engaged = {
        group_id: (engaged_by_group.get(group_id, 0), replies_by_group.get(group_id, 0))
        for group_id in {*engaged_by_group, *replies_by_group}
        if group_id is not None
    }
    group_revenue: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    intent_revenue: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    intent_purchases: dict[str | None, int] = defaultdict(int)
    total_revenue: dict[str, int] = defaultdict(int)
    for earned in by_intent.money:
        intent, currency, net = earned["intent"], earned["currency"], earned["net"]
        names.setdefault(earned["group_id"], earned["group_name"] or UNATTRIBUTED)
        intent_purchases[intent] += earned["purchases"]
        group_revenue[earned["group_id"]][currency] += net
        intent_revenue[intent][currency] += net
        total_revenue[currency] += net

    groups = [
        EconomicsGroup(
            group_id=group_id,
            group_name=name,
            **_economics_figures(
                dict(group_revenue.get(group_id, {})),
                group_interactions.get(group_id, 0),
                *engaged.get(group_id, (0, 0)),
            ),
        )
        for group_id, name in names.items()
    ]
    groups.sort(key=lambda row: (row["group_id"] is None, -row["interactions"], row["group_name"]))
    intents = [
        EconomicsIntent(
            intent=intent,
            interactions=intent_interactions.get(intent, 0),
            purchases=intent_purchases.get(intent, 0),
            revenue=dict(sorted(intent_revenue.get(intent, {}).items())),
            revenue_per_interaction=_money_ratio(
                dict(intent_revenue.get(intent, {})), intent_interactions.get(intent, 0)
            ),
        )
        for intent in {*intent_interactions, *intent_revenue}
    ]
    intents.sort(key=lambda row: (row["intent"] is None, -row["interactions"], row["intent"] or ""))
    # A member belongs to one group, so the groups' engaged members add up to the distinct total.
    totals = _economics_figures(
        dict(total_revenue),
        sum(group_interactions.values()),
        sum(members for members, _ in engaged.values()),
        sum(replies for _, replies in engaged.values()),
    )
    return Economics(start=start, end=end, totals=totals, groups=groups, intents=intents)


def _engaged_members_by_group(scope: KpiScope, start: date, end: date) -> dict[Any, int]:
    """Group id -> members with at least one interaction in start..end.

    From the member-years' interaction days (as of the KPI job's last run, like the rollups beside them): one read
    of the tenant's member-years with a bit search each (4-8 ms for 2,000 members' two years), where a probe per
    member into the interactions took 13-19 ms and grew with every member. A bot's figure counts only its own
    interactions, which the member-years (per member, not per bot) cannot tell apart, so it keeps the probe.
    """
    if scope.bot_id is None:
        counts = distinct_active_members_by_group(tenant=scope.tenant, ranges=[(start, end)], engaged=True)
        return {
            group_id: members
            for (_, group_id), members in counts.items()
            if scope.group_id is None or str(group_id) == str(scope.group_id)  # the scope's may be text (figure cache)
        }
    since, until = _instants(scope, start, end)
    interacted = Interaction.objects.filter(
        member_id=OuterRef("pk"), bot_id=scope.bot_id, occurred_at__gte=since, occurred_at__lt=until
    )
    engaged_members = scope_members(scope, group_id=scope.group_id).filter(Exists(interacted))
    return dict(engaged_members.values_list("group_id").annotate(engaged=Count("pk")).order_by())
