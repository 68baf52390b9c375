"""The analytics beyond the KPI table: active members, retention cohorts, the conversion funnel, top intents, the
sentiment trend and community economics.

Every selector takes a `KpiScope` (tenant, optionally a bot or a group) and inclusive dates in the tenant's time
zone, and answers in a fixed number of aggregate queries, however much data the tenant has. Member figures come
from `MemberDay` and trends from `DailyRollup`; what the rollups do not hold (intents, attribution of a
conversion to a click, members who interacted) is aggregated from the raw tables over an indexed range of
instants. Member figures for a bot are those of the bot's group (a bot has exactly one group).

Money is never added across currencies; ratios of money are in minor units, rounded to two decimals.
"""

import operator
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any, TypedDict

from django.db.models import Count, DateField, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.expressions import Combinable
from django.db.models.functions import TruncMonth, TruncWeek

from analytics.models import IntentRollup, MemberDay
from analytics.periods import period_start, periods_between
from analytics.selectors import KpiScope, _rollups
from analytics.services import day_bounds
from bots.models import Interaction
from bots.selectors import bot_list
from monetization.models import Click, Conversion, MonetizationSource

FUNNEL_STEPS: tuple[str, ...] = (
    Conversion.Outcome.SIGNUP.value,
    Conversion.Outcome.CHECKOUT.value,
    Conversion.Outcome.PURCHASE.value,
)
UNATTRIBUTED = "unattributed"


# --- Scoping -----------------------------------------------------------------------------------------------------


def _instants(scope: KpiScope, start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in the tenant's zone: an index range, DST-exact."""
    zone = scope.tenant.time_zone
    return day_bounds(day=start, zone=zone)[0], day_bounds(day=end, zone=zone)[1]


def _member_days(scope: KpiScope, start: date, end: date) -> QuerySet[MemberDay]:
    rows = MemberDay.objects.for_tenant(scope.tenant).filter(day__gte=start, day__lte=end)
    if scope.group_id is not None:
        rows = rows.filter(group_id=scope.group_id)
    if scope.bot_id is not None:
        # A subquery rather than a lookup first: the bot's group costs no query of its own.
        rows = rows.filter(group_id__in=bot_list(tenant=scope.tenant).filter(pk=scope.bot_id).values("group_id"))
    return rows


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
    counts = _member_days(scope, mau_start, end).aggregate(
        dau=Count("member_id", distinct=True, filter=Q(day=end)),
        wau=Count("member_id", distinct=True, filter=Q(day__gte=wau_start)),
        mau=Count("member_id", distinct=True),
    )
    return ActiveMembers(
        end=end,
        dau=counts["dau"],
        wau=counts["wau"],
        wau_start=wau_start,
        mau=counts["mau"],
        mau_start=mau_start,
        stickiness=_share(counts["dau"], counts["mau"]),
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
    active day (their earliest MemberDay, in all history) falls in that week, and for week offsets 0..`weeks` the
    share of them active (any MemberDay) in that week. Weeks that begin after `end` are not observed: null.

    One query: the member-days of the range whose member has none before it (an anti-join), each labelled with
    its member's first day by a correlated subquery on the member_id index, counted distinct per (cohort week,
    activity week) in the database.
    """
    first_week = period_start(start, "week")
    seen_before = MemberDay.objects.filter(tenant=scope.tenant, member_id=OuterRef("member_id"), day__lt=first_week)
    first_day = Subquery(
        MemberDay.objects.filter(tenant=scope.tenant, member_id=OuterRef("member_id"))
        .order_by("day")
        .values("day")[:1],
        output_field=DateField(),
    )
    pairs = (
        _member_days(scope, first_week, end)
        .filter(~Exists(seen_before))
        .annotate(
            cohort=TruncWeek(first_day, output_field=DateField()), week=TruncWeek("day", output_field=DateField())
        )
        .values("cohort", "week")
        .annotate(active=Count("member_id", distinct=True))
        .order_by()
    )
    active: dict[tuple[date, date], int] = {
        (_as_date(row["cohort"]), _as_date(row["week"])): row["active"] for row in pairs
    }
    cohorts: list[RetentionCohort] = []
    for cohort in periods_between(first_week, end, "week"):
        size = active.get((cohort, cohort), 0)  # every member is active in the week of their first active day
        offsets: list[RetentionWeek] = []
        for offset in range(weeks + 1):
            week = cohort + timedelta(weeks=offset)
            if week > end:
                offsets.append(RetentionWeek(offset=offset, week=week, active=None, share=None))
            else:
                count = active.get((cohort, week), 0)
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


def _within_window(clicked_at: Combinable, *, window_days: int | None, source_windows: Iterable[int]) -> Q:
    """A conversion at most the window after its click. With no fixed window, each conversion's source's own:
    one branch per distinct window the tenant uses, because a per-row interval (days x 1 day) is not portable."""
    if window_days is not None:
        return Q(occurred_at__lte=clicked_at + timedelta(days=window_days))
    branches = [
        Q(source__attribution_window_days=days, occurred_at__lte=clicked_at + timedelta(days=days))
        for days in sorted(set(source_windows)) or [0]  # no source: no conversion either
    ]
    return reduce(operator.or_, branches)


def conversion_funnel(*, scope: KpiScope, start: date, end: date, window_days: int | None = None) -> Funnel:
    """Human clicks made in the range, then how many of them led to a signup, a checkout and a purchase (the
    conversion attributed to the click, within the window, whenever that was, even after `end`).

    A step is reached by a click with a conversion of that step or a later one (a purchase passed checkout even
    when the shop reports only purchases), so the counts never grow down the funnel; `conversions` counts the
    reported events of each outcome. Two queries, three without a fixed window (the tenant's source windows).
    """
    tenant = scope.tenant
    since, until = _instants(scope, start, end)
    clicks = _through_interaction(
        Click.objects.for_tenant(tenant).filter(clicked_at__gte=since, clicked_at__lt=until, is_bot=False), scope
    )
    source_windows: list[int] = []
    if window_days is None:
        source_windows = list(
            MonetizationSource.objects.for_tenant(tenant)
            .order_by()
            .values_list("attribution_window_days", flat=True)
            .distinct()
        )

    def reached(steps: tuple[str, ...]) -> Exists:
        return Exists(
            Conversion.objects.filter(tenant=tenant, attributed_click_id=OuterRef("pk"), outcome__in=steps).filter(
                _within_window(OuterRef("clicked_at"), window_days=window_days, source_windows=source_windows)
            )
        )

    counts = clicks.aggregate(
        clicks=Count("pk"),
        **{step: Count("pk", filter=reached(FUNNEL_STEPS[index:])) for index, step in enumerate(FUNNEL_STEPS)},
    )
    events = (
        Conversion.objects.for_tenant(tenant)
        .filter(attributed_click__in=clicks.values("pk"), outcome__in=FUNNEL_STEPS)
        .filter(
            _within_window(F("attributed_click__clicked_at"), window_days=window_days, source_windows=source_windows)
        )
        .values("outcome", "currency")
        .annotate(n=Count("pk"), amount=Sum("amount", default=0))
        .order_by()
    )
    per_outcome: dict[str, int] = defaultdict(int)
    purchase_revenue: dict[str, int] = defaultdict(int)
    for row in events:
        per_outcome[row["outcome"]] += row["n"]
        if row["outcome"] == Conversion.Outcome.PURCHASE:
            purchase_revenue[row["currency"]] += row["amount"]

    clicked = counts["clicks"]
    steps = [
        FunnelStep(
            step="click", reached=clicked, conversions=clicked, rate=None, rate_from_clicks=_share(clicked, clicked)
        )
    ]
    for step in FUNNEL_STEPS:
        steps.append(
            FunnelStep(
                step=step,
                reached=counts[step],
                conversions=per_outcome[step],
                rate=_share(counts[step], steps[-1]["reached"]),
                rate_from_clicks=_share(counts[step], counts["clicks"]),
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


def top_intents(*, scope: KpiScope, start: date, end: date, limit: int = 10) -> list[IntentRow]:
    """The `limit` intents with the most interactions in the range (ties by name; "" is no rule's intent), with
    their unhandled share, average sentiment, and the purchases and net revenue of conversions in the range
    attributed to interactions of that intent. Two queries over the intent rollups (a few rows per day), so a
    year costs what a week does."""
    ranked = list(
        _intent_rollups(scope, start, end)
        .filter(intent__isnull=False)
        .values("intent")
        .annotate(interactions=Sum("interactions"), unhandled=Sum("unhandled"), sentiment_sum=Sum("sentiment_sum"))
        .filter(interactions__gt=0)
        .order_by("-interactions", "intent")[:limit]
    )
    # Every row that earned something, not only the ranked intents': money is sparse (a row per day, bot and
    # intent with conversions), and the page then costs the same two queries whatever the data.
    money: dict[str, tuple[int, dict[str, int]]] = {}
    earning = _intent_rollups(scope, start, end).filter(intent__isnull=False).exclude(purchases=0, revenue={})
    for earned in earning.values("intent", "purchases", "revenue"):
        intent = str(earned["intent"])
        purchases, revenue = money.get(intent, (0, {}))
        for currency, amount in earned["revenue"].items():
            revenue[currency] = revenue.get(currency, 0) + amount
        money[intent] = (purchases + earned["purchases"], revenue)
    rows: list[IntentRow] = []
    for row in ranked:
        purchases, revenue = money.get(row["intent"], (0, {}))
        rows.append(
            IntentRow(
                intent=row["intent"],
                interactions=row["interactions"],
                unhandled=row["unhandled"],
                unhandled_share=_share(row["unhandled"], row["interactions"]),
                sentiment_avg=round((row["sentiment_sum"] or 0) / row["interactions"], 4),
                purchases=purchases,
                revenue=dict(sorted(revenue.items())),
            )
        )
    return rows


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


def _sentiment_figures(sums: dict[str, Any] | None) -> SentimentFigures:
    # No interactions: null, not 0, so a chart shows a gap instead of a neutral mood nobody expressed.
    sums = sums or {}
    interactions, unhandled = sums.get("interactions") or 0, sums.get("unhandled") or 0
    counted, total = sums.get("sentiment_count") or 0, sums.get("sentiment_sum") or 0.0
    return SentimentFigures(
        interactions=interactions,
        unhandled=unhandled,
        unhandled_rate=round(unhandled / interactions, 4) if interactions else None,
        sentiment_avg=round(total / counted, 4) if counted else None,
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
    by_period = {_as_date(row["period"]): row for row in per_period}
    totals = {name: sum(row[name] or 0 for row in by_period.values()) for name in sums}
    return SentimentTrend(
        start=start,
        end=end,
        granularity=granularity,
        totals=_sentiment_figures(totals),
        series=[
            SentimentPeriod(period=period, **_sentiment_figures(by_period.get(period)))
            for period in periods_between(start, end, granularity)
        ],
    )


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


def community_economics(*, scope: KpiScope, start: date, end: date) -> Economics:
    """Net revenue per currency per group and per intent, per engaged member (a member with at least one
    interaction in the range) and per 1,000 bot replies (interactions whose reply GroupMe accepted, as the KPI
    `replies`), in three queries.

    All of it comes from raw rows, not the rollups: engaged members need the interactions anyway and replies
    come from the same query for free, and a ratio then never divides live money by lagging counts. Money is
    placed by when the conversion occurred (as in the ledger), so totals equal the ledger's for the range; money
    no interaction earned is a row of its own (group and intent null), present only without a bot or group.
    """
    activity = (
        _interactions(scope, start, end)
        .values("group_id", "intent", group_name=F("group__name"))
        .annotate(interactions=Count("pk"))
        .order_by()
    )
    engagement = (
        _interactions(scope, start, end)
        .values("group_id")
        .annotate(
            engaged=Count("member_id", distinct=True),
            replies=Count("pk", filter=Q(reply_status=Interaction.ReplyStatus.SENT)),
        )
        .order_by()
    )
    money = (
        _conversions(scope, start, end)
        .values(
            "currency",
            group_id=F("interaction__group_id"),
            group_name=F("interaction__group__name"),
            intent=F("interaction__intent"),
        )
        .annotate(purchases=Count("pk", filter=Q(outcome=Conversion.Outcome.PURCHASE)), net=Sum("amount", default=0))
        .order_by()
    )

    names: dict[Any, str] = {}
    group_interactions: dict[Any, int] = defaultdict(int)
    intent_interactions: dict[str | None, int] = defaultdict(int)
    for row in activity:
        names[row["group_id"]] = row["group_name"]
        group_interactions[row["group_id"]] += row["interactions"]
        intent_interactions[row["intent"]] += row["interactions"]
    engaged = {row["group_id"]: (row["engaged"], row["replies"]) for row in engagement}
    group_revenue: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    intent_revenue: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    intent_purchases: dict[str | None, int] = defaultdict(int)
    total_revenue: dict[str, int] = defaultdict(int)
    for row in money:
        names.setdefault(row["group_id"], row["group_name"] or UNATTRIBUTED)
        group_revenue[row["group_id"]][row["currency"]] += row["net"]
        intent_revenue[row["intent"]][row["currency"]] += row["net"]
        intent_purchases[row["intent"]] += row["purchases"]
        total_revenue[row["currency"]] += row["net"]

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
