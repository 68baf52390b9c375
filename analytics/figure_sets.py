"""What each view of the figures computes for a query: the sets the figure cache keeps per KPI run.

The overview, the analytics page and the KPI API each read one set; the pages shape it for templates afterwards.
A set is computed from the query alone (its scope names the tenant), so the KPI job can compute it again for a
new run without a request (analytics.figure_cache.figures_refresh_viewed).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from analytics.api.params import AnalyticsQuery
from analytics.insights import (
    ActiveMembers,
    Economics,
    Funnel,
    IntentRow,
    Retention,
    SentimentTrend,
    active_members_rolling,
    community_economics,
    conversion_funnel,
    intent_figures,
    retention_cohorts,
    sentiment_trend_of,
    top_intents_of,
)
from analytics.selectors import RollupSums, intent_ranking, kpi_report, rollup_sums

RETENTION_WEEKS = 8
OVERVIEW_INTENTS = 5
ANALYTICS_INTENTS = 10


def kpi_figures(query: AnalyticsQuery, *, sums: RollupSums | None = None) -> dict[str, Any]:
    """The KPI report of the query: what the API's kpis/ answers."""
    return kpi_report(
        scope=query.scope, start=query.start, end=query.end, granularity=query.granularity,
        group_of_bot=query.group_of_bot, sums=sums,
    )  # fmt: skip


@dataclass(frozen=True)
class OverviewFigures:
    report: dict[str, Any]
    intents: list[dict[str, Any]]


def overview_figures_of(query: AnalyticsQuery) -> OverviewFigures:
    # The overview shows no money per intent, so it reads the ranking alone, not top_intents' revenue rows too.
    return OverviewFigures(
        report=kpi_figures(query),
        intents=intent_ranking(scope=query.scope, start=query.start, end=query.end, limit=OVERVIEW_INTENTS),
    )


@dataclass(frozen=True)
class AnalyticsFigures:
    """Everything the analytics page reads from the selectors for one query."""

    report: dict[str, Any]
    retention: Retention
    funnel: Funnel
    intents: list[IntentRow]
    economics: Economics
    active: ActiveMembers
    sentiment: SentimentTrend


def analytics_figures_of(query: AnalyticsQuery) -> AnalyticsFigures:
    scope, start, end = query.scope, query.start, query.end
    # Read once each: the daily rollups' sums for the KPI report, the sentiment trend and the funnel's clicks; the
    # intent rollups for the top intents and the economics tables.
    sums = rollup_sums(scope=scope, start=start, end=end, granularity=query.granularity)
    intents = intent_figures(scope=scope, start=start, end=end)
    return AnalyticsFigures(
        report=kpi_figures(query, sums=sums),
        retention=retention_cohorts(scope=scope, start=start, end=end, weeks=RETENTION_WEEKS),
        funnel=conversion_funnel(
            scope=scope,
            start=start,
            end=end,
            window_days=query.numbers.get("window_days"),
            clicked=sums.total.counters["clicks"],
        ),
        intents=top_intents_of(intents, limit=ANALYTICS_INTENTS),
        economics=community_economics(scope=scope, start=start, end=end, by_intent=intents),
        active=active_members_rolling(scope=scope, end=end),
        sentiment=sentiment_trend_of(sums),
    )


FIGURE_SETS: dict[str, Callable[[AnalyticsQuery], Any]] = {
    "kpis": kpi_figures,
    "overview": overview_figures_of,
    "analytics": analytics_figures_of,
}
