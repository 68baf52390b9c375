"""Dashboard pages of the figures: the overview (tenants.views.TenantHomeView builds on `RangedPageView`), the
analytics page and its CSV downloads.

Every figure comes from the selectors the API uses (`kpi_report`, the insights, `bot_health`) for the range the
shared form resolved; this module only shapes their answers for templates, charts and CSV files. Each page answers
in a fixed number of queries whatever the range or the amount of data.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import urlencode

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views import View

from analytics.api.export_views import export_filename
from analytics.api.params import AnalyticsQuery
from analytics.exports import (
    CONVERSION_HEADER,
    INTERACTION_HEADER,
    conversion_rows,
    csv_stream,
    interaction_rows,
    kpi_table,
)
from analytics.figure_cache import figures_for
from analytics.figure_sets import RETENTION_WEEKS, AnalyticsFigures, OverviewFigures, kpi_figures
from analytics.forms import AnalyticsRangeForm, DashboardRangeForm
from analytics.health import CRITICAL, WARNING, BotHealth, bot_health
from analytics.insights import (
    Economics,
    Funnel,
    IntentRow,
    Retention,
    community_economics,
    conversion_funnel,
    retention_cohorts,
)
from analytics.periods import tenant_today
from analytics.selectors import kpi_last_run
from analytics.services import day_bounds
from bots.models import Bot
from bots.selectors import interaction_list
from monetization.currencies import MINOR_UNIT_EXPONENTS
from monetization.selectors import conversion_list
from tenants.dashboard import TenantPageView, TenantViewMixin
from tenants.models import Tenant
from tenants.scoping import ensure_scoped

# --- Formatting --------------------------------------------------------------------------------------------------


def format_count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def format_share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def format_ms(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value:,} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _exponent(currency: str) -> int:
    return MINOR_UNIT_EXPONENTS.get(currency, 2)


def major_units(amount: float, currency: str) -> float:
    exponent = _exponent(currency)
    return round(amount / 10.0**exponent, exponent)


def format_money(amount: float, currency: str) -> str:
    """Minor units (an integer, or a ratio with decimals) as the currency's major units: 123456, USD -> 1,234.56 USD."""
    exponent = _exponent(currency)
    return f"{amount / 10**exponent:,.{exponent}f} {currency}"


def format_revenue(revenue: Mapping[str, float] | None) -> str:
    """Money per currency, never added across currencies; "—" when there is nothing to show."""
    if not revenue:
        return "—"
    return ", ".join(format_money(amount, currency) for currency, amount in sorted(revenue.items()))


def format_day(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def period_label(period: date, granularity: str) -> str:
    if granularity == "month":
        return f"{period:%b %Y}"
    if granularity == "week":
        return f"Week of {period.day} {period:%b}"
    return f"{period.day} {period:%b}"


def _with_query(url: str, **params: Any) -> str:
    query = urlencode({name: value for name, value in params.items() if value not in (None, "")})
    return f"{url}?{query}" if query else url


# --- Drill-down links --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillDown:
    """Links to the records behind the figures, with the dashboard's shared query parameters (common to every
    section, so a figure's link lands on its rows already filtered)."""

    tenant: Tenant
    query: AnalyticsQuery

    def _path(self, tail: str) -> str:
        # The section pages' own URL names are theirs to choose; the paths are the dashboard's shared contract.
        return reverse("tenants:home", kwargs={"tenant_slug": self.tenant.slug}) + tail

    @property
    def _range(self) -> dict[str, str]:
        return {"since": self.query.start.isoformat(), "until": self.query.end.isoformat()}

    def interactions(self, **params: Any) -> str:
        scope = self.query.scope
        return _with_query(self._path("interactions/"), bot=scope.bot_id, group=scope.group_id, **self._range, **params)

    def conversions(self, **params: Any) -> str:
        return _with_query(self._path("money/conversions/"), **self._range, **params)

    def links(self) -> str:
        return self._path("links/")

    def groups(self) -> str:
        if self.query.scope.group_id is not None:
            return self.group(self.query.scope.group_id, sort="-last_seen")
        return self._path("groups/")

    def group(self, group_id: Any, **params: Any) -> str:
        return _with_query(self._path(f"groups/{group_id}/"), **params)

    def bot(self, bot_id: Any) -> str:
        return self._path(f"bots/{bot_id}/")


def onboarding_url(tenant: Tenant) -> str:
    """Where a tenant without bots starts: the onboarding flow, or the bots page while onboarding is not there."""
    try:
        return reverse("bots:onboarding", kwargs={"tenant_slug": tenant.slug})
    except NoReverseMatch:
        return reverse("bots:list", kwargs={"tenant_slug": tenant.slug})


# --- KPI tiles ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    change: str  # in words, never only a colour
    trend: str  # "better", "worse" or "" (no change, nothing to compare)
    href: str


# Above this a change reads as a multiple: the previous period was all but empty.
HUGE_CHANGE_PERCENT = 999


def _change(
    current: float | None, previous: float | None, *, lower_is_better: bool = False, points: bool = False
) -> tuple[str, str]:
    if current is None or previous is None:
        return "nothing to compare", ""
    if current == previous:
        return "no change", ""
    direction = "up" if current > previous else "down"
    trend = "better" if (current < previous) == lower_is_better else "worse"
    if points:  # a rate moves in percentage points: 10% -> 12% is "up 2.0 points", not "up 20%"
        return f"{direction} {abs(current - previous) * 100:.1f} points", trend
    if previous == 0:
        return "up from none", trend
    percent = abs(current - previous) / abs(previous) * 100
    if percent > HUGE_CHANGE_PERCENT:
        # Against an all but empty period (a new tenant, a demo's first weeks) "up 14588%" is exact and says
        # nothing more than this does.
        return f"{direction} more than 10\N{MULTIPLICATION SIGN}", trend
    return f"{direction} {percent:.1f}%" if percent < 10 else f"{direction} {percent:.0f}%", trend


def _unhandled_rate(figures: dict[str, Any]) -> float | None:
    return figures["unhandled"] / figures["interactions"] if figures["interactions"] else None


def kpi_tiles(*, report: dict[str, Any], links: DrillDown, default_currency: str) -> list[Tile]:
    totals, previous = report["totals"], report["previous"]

    def counted(key: str, label: str, href: str) -> Tile:
        return Tile(key, label, format_count(totals[key]), *_change(totals[key], previous[key]), href)

    unhandled_now, unhandled_before = _unhandled_rate(totals), _unhandled_rate(previous)
    tiles = [
        counted("messages", "Messages", links.groups()),
        counted("active_members", "Active members", links.groups()),
        counted("interactions", "Bot interactions", links.interactions()),
        Tile(
            "unhandled_rate", "Unhandled rate", format_share(unhandled_now),
            *_change(unhandled_now, unhandled_before, lower_is_better=True, points=True),
            links.interactions(handled="false"),
        ),
        Tile(
            "response_time_p95_ms", "Reply time (95th percentile)", format_ms(totals["response_time_p95_ms"]),
            *_change(totals["response_time_p95_ms"], previous["response_time_p95_ms"], lower_is_better=True),
            links.interactions(reply_status="sent"),
        ),
        counted("clicks", "Link clicks", links.links()),
        counted("conversions", "Conversions", links.conversions()),
    ]  # fmt: skip
    currencies = sorted({*totals["revenue"], *previous["revenue"]}) or [default_currency]
    for currency in currencies:
        now, before = totals["revenue"].get(currency, 0), previous["revenue"].get(currency, 0)
        tiles.append(
            Tile(f"revenue_{currency}", f"Revenue ({currency})", format_money(now, currency), *_change(now, before),
                 links.conversions())
        )  # fmt: skip
    return tiles


# --- Charts ------------------------------------------------------------------------------------------------------


@dataclass
class Chart:
    """A chart's data for `static/js/charts.js` (`spec`, rendered with json_script) and the same figures as table
    rows, the fallback that reads without a canvas."""

    key: str
    title: str
    spec: dict[str, Any]
    rows: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def script_id(self) -> str:
        return f"chart-{self.key}-data"

    @property
    def columns(self) -> list[str]:
        return [dataset["label"] for dataset in self.spec["datasets"]]

    @property
    def table_body(self) -> SafeString:
        return table_rows_markup(self.rows)


def table_rows_markup(rows: Iterable[tuple[str, Sequence[str]]]) -> SafeString:
    """Rows of a figures table (a row label, then numbers) as markup, built here rather than by nested template
    loops: a year is hundreds of rows and thousands of cells, which Django's template engine spends tens of
    milliseconds on. Every label and value is escaped."""
    markup = (
        f'<tr><th scope="row">{escape(label)}</th>'
        + "".join(f'<td class="num">{escape(value)}</td>' for value in values)
        + "</tr>"
        for label, values in rows
    )
    return mark_safe("".join(markup))  # noqa: S308 - built from escaped text only


def _chart(
    key: str,
    title: str,
    *,
    kind: str,
    periods: Sequence[date],
    granularity: str,
    datasets: Sequence[tuple[str, Sequence[Any], Callable[[Any], str]]],
    min_value: float | None = 0,
    max_value: float | None = None,
    integers: bool = True,
    unit: str = "",
) -> Chart:
    labels = [period_label(period, granularity) for period in periods]
    spec = {
        "type": kind,
        "title": title,
        "granularity": granularity,
        "periods": [period.isoformat() for period in periods],
        "labels": labels,
        "datasets": [{"label": label, "data": data} for label, data, _ in datasets],
        "min": min_value,
        "max": max_value,
        "integers": integers,
        "unit": unit,  # the value axis' title, when the figures are not plain counts
    }
    rows = [(labels[index], [show(data[index]) for _, data, show in datasets]) for index in range(len(periods))]
    return Chart(key=key, title=title, spec=spec, rows=rows)


def _major(currency: str) -> Callable[[Any], str]:
    """Formats an amount already in major units (as the chart holds it) for the fallback table."""
    return lambda amount: f"{amount:,.{_exponent(currency)}f} {currency}"


def kpi_charts(*, report: dict[str, Any], default_currency: str) -> list[Chart]:
    series, granularity = report["series"], report["granularity"]
    periods = [date.fromisoformat(entry["period"]) for entry in series]

    def counts(key: str) -> list[int]:
        return [entry[key] for entry in series]

    currencies = sorted({currency for entry in series for currency in entry["revenue"]}) or [default_currency]
    revenue = [
        (currency, [major_units(entry["revenue"].get(currency, 0), currency) for entry in series], _major(currency))
        for currency in currencies
    ]
    return [
        _chart("messages", "Messages", kind="line", periods=periods, granularity=granularity,
               datasets=[("Messages", counts("messages"), format_count)]),
        _chart("active-members", "Active members", kind="line", periods=periods, granularity=granularity,
               datasets=[("Active members", counts("active_members"), format_count)]),
        _chart("interactions", "Bot interactions", kind="line", periods=periods, granularity=granularity,
               datasets=[("Interactions", counts("interactions"), format_count),
                         ("Unhandled", counts("unhandled"), format_count)]),
        _chart("conversions", "Conversions", kind="bar", periods=periods, granularity=granularity,
               datasets=[("Conversions", counts("conversions"), format_count),
                         ("Purchases", counts("purchases"), format_count)]),
        _chart("revenue", f"Revenue ({', '.join(currencies)})", kind="bar", periods=periods,
               granularity=granularity, datasets=revenue, min_value=None, integers=False,
               unit=currencies[0] if len(currencies) == 1 else "Amount, in each currency"),
    ]  # fmt: skip


def sentiment_chart(*, trend: dict[str, Any]) -> Chart:
    series = trend["series"]
    return _chart(
        "sentiment", "Sentiment and unhandled share", kind="line",
        periods=[entry["period"] for entry in series], granularity=trend["granularity"],
        datasets=[
            ("Average sentiment (-1 to 1)", [entry["sentiment_avg"] for entry in series],
             lambda value: "—" if value is None else f"{value:+.2f}"),
            ("Unhandled share (0 to 1)", [entry["unhandled_rate"] for entry in series],
             lambda value: format_share(value)),
        ],
        min_value=-1, max_value=1, integers=False,
    )  # fmt: skip


# --- Bot health --------------------------------------------------------------------------------------------------

_BADGES = {CRITICAL: ("bad", "Needs attention"), WARNING: ("warn", "Warning")}


@dataclass(frozen=True)
class HealthBadge:
    name: str
    href: str
    badge: str  # the shared .badge class: ok, warn or bad
    status: str  # the status in words
    details: list[str]
    last_callback_at: datetime | None
    is_active: bool


def health_badges(*, health: Iterable[BotHealth], links: DrillDown) -> list[HealthBadge]:
    badges = []
    for entry in health:
        badge, status = _BADGES.get(entry.status, ("ok", "Healthy"))
        details = [condition.detail for condition in entry.conditions]
        if not details:
            details = ["Hearing its group and replying normally."]
        badges.append(
            HealthBadge(
                name=entry.bot.name, href=links.bot(entry.bot.pk), badge=badge, status=status, details=details,
                last_callback_at=entry.last_callback_at, is_active=entry.bot.is_active,
            )
        )  # fmt: skip
    return badges


# --- Analytics tables --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatCell:
    text: str
    detail: str
    heat: str  # a CSS class, heat-0 .. heat-10 by share, "unobserved" for weeks not yet over


def retention_rows(retention: Retention) -> list[tuple[str, int, list[HeatCell]]]:
    rows = []
    for cohort in retention["cohorts"]:
        cells = []
        for week in cohort["weeks"]:
            if not cohort["size"]:  # 0 of 0 is no share at all, not a 0% retention
                cells.append(HeatCell("—", "no new members that week", "unobserved"))
            elif week["share"] is None:
                cells.append(HeatCell("—", "not observed yet", "unobserved"))
            else:
                cells.append(
                    HeatCell(format_share(week["share"]), f"{week['active']} of {cohort['size']}",
                             f"heat-{round(week['share'] * 10)}")
                )  # fmt: skip
        rows.append((f"Week of {format_day(cohort['cohort'])}", cohort["size"], cells))
    return rows


def intent_rows(intents: Iterable[IntentRow], *, links: DrillDown) -> list[dict[str, Any]]:
    """Top intents with their figures in words and links to their interactions ("" is no rule's intent: no link,
    as the interactions list cannot filter on it)."""
    return [
        {
            **intent_ranking_row(row, links=links),
            "sentiment_text": f"{row['sentiment_avg']:+.2f}",
            "revenue_text": format_revenue(row["revenue"]),
            "unhandled_href": links.interactions(intent=row["intent"], handled="false") if row["intent"] else "",
        }
        for row in intents
    ]


def intent_ranking_row(row: Mapping[str, Any], *, links: DrillDown) -> dict[str, Any]:
    """An intent with its unhandled share in words and a link to its interactions (none for "", no rule's intent)."""
    return {
        **row,
        "unhandled_text": format_share(row["unhandled_share"]),
        "href": links.interactions(intent=row["intent"]) if row["intent"] else "",
    }


_STEP_LABELS = {"click": "Clicks", "signup": "Signups", "checkout": "Checkouts", "purchase": "Purchases"}


def funnel_rows(funnel: Funnel, *, links: DrillDown) -> list[dict[str, Any]]:
    return [
        {
            "label": _STEP_LABELS[step["step"]],
            "reached": format_count(step["reached"]),
            "conversions": format_count(step["conversions"]),
            "rate": format_share(step["rate"]),
            "share": step["rate_from_clicks"],
            "share_text": format_share(step["rate_from_clicks"]),
            "href": links.links() if step["step"] == "click" else links.conversions(kind=step["step"]),
        }
        for step in funnel["steps"]
    ]


def economics_tables(economics: Economics, *, links: DrillDown) -> dict[str, Any]:
    totals = economics["totals"]
    groups = [
        {
            "name": row["group_name"] or "Not attributed to a group",
            "href": links.group(row["group_id"]) if row["group_id"] is not None else "",
            "interactions": format_count(row["interactions"]),
            "engaged_members": format_count(row["engaged_members"]),
            "replies": format_count(row["replies"]),
            "revenue": format_revenue(row["revenue"]),
            "per_member": format_revenue(row["revenue_per_engaged_member"]),
            "per_1000_replies": format_revenue(row["revenue_per_1000_replies"]),
        }
        for row in economics["groups"]
    ]
    intents = [
        {
            "name": row["intent"] if row["intent"] else ("No intent" if row["intent"] == "" else "Not attributed"),
            "href": links.interactions(intent=row["intent"]) if row["intent"] else "",
            "interactions": format_count(row["interactions"]),
            "purchases": format_count(row["purchases"]),
            "revenue": format_revenue(row["revenue"]),
            "per_interaction": format_revenue(row["revenue_per_interaction"]),
        }
        for row in economics["intents"]
    ]
    summary = {
        "revenue": format_revenue(totals["revenue"]),
        "engaged_members": format_count(totals["engaged_members"]),
        "replies": format_count(totals["replies"]),
        "per_member": format_revenue(totals["revenue_per_engaged_member"]),
        "per_1000_replies": format_revenue(totals["revenue_per_1000_replies"]),
    }
    return {"summary": summary, "groups": groups, "intents": intents}


def retention_markup(rows: Iterable[tuple[str, int, list[HeatCell]]]) -> SafeString:
    """The retention heat table's rows as markup (see table_rows_markup): a cell per cohort and week, each with
    its shade, its share and, for screen readers, the counts behind it. Every value is escaped."""
    markup = (
        f'<tr><th scope="row">{escape(label)}</th><td class="num">{size}</td>'
        + "".join(
            f'<td class="num {escape(cell.heat)}" title="{escape(cell.detail)}">{escape(cell.text)}'
            f'<span class="visually-hidden"> ({escape(cell.detail)})</span></td>'
            for cell in cells
        )
        + "</tr>"
        for label, size, cells in rows
    )
    return mark_safe("".join(markup))  # noqa: S308 - built from escaped text only


KPI_PERIOD_COLUMNS = ("messages", "active_members", "interactions", "unhandled", "clicks", "conversions", "revenue")


def kpi_period_rows(report: dict[str, Any]) -> list[dict[str, str]]:
    granularity = report["granularity"]
    return [
        {
            "period": period_label(date.fromisoformat(entry["period"]), granularity),
            "messages": format_count(entry["messages"]),
            "active_members": format_count(entry["active_members"]),
            "interactions": format_count(entry["interactions"]),
            "unhandled": format_count(entry["unhandled"]),
            "clicks": format_count(entry["clicks"]),
            "conversions": format_count(entry["conversions"]),
            "revenue": format_revenue(entry["revenue"]),
        }
        for entry in report["series"]
    ]


# --- Pages -------------------------------------------------------------------------------------------------------


class RangedPageView(TenantPageView):
    """A page of figures over the shared date-range form. An invalid range re-renders the page with the form's
    errors and a 400, and no figures."""

    range_form_class: type[DashboardRangeForm] = DashboardRangeForm
    range_form: DashboardRangeForm

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.range_form = self.range_form_class(request.GET, tenant=self.tenant, today=tenant_today(self.tenant))
        valid = self.range_form.is_valid()
        context = self.get_context_data(**kwargs)
        return self.render_to_response(context, status=200 if valid else 400)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = self.range_form
        filter_params = form.filter_params
        context.update(
            range_form=form,
            filter_params=filter_params,
            filter_query=urlencode(filter_params),
            query=form.query,
        )
        if form.query is not None:
            query = form.query
            context.update(
                range_label=f"{format_day(query.start)} \N{EN DASH} {format_day(query.end)}",
                previous_label=_previous_label(query),
                **self.figures(query=query, links=DrillDown(tenant=self.tenant, query=query)),
            )
        return context

    def figures(self, *, query: AnalyticsQuery, links: DrillDown) -> dict[str, Any]:
        raise NotImplementedError


def _previous_label(query: AnalyticsQuery) -> str:
    length = query.end - query.start + timedelta(days=1)
    return f"{format_day(query.start - length)} \N{EN DASH} {format_day(query.start - timedelta(days=1))}"


def overview_figures(*, tenant: Tenant, query: AnalyticsQuery, links: DrillDown, bots: Sequence[Bot]) -> dict[str, Any]:
    """What the overview shows: tiles with their change, charts, top intents, the health of `bots` (the tenant's
    bots, as the range form loaded them) and how fresh the figures are. Health is live on every view; the rest is
    kept per KPI run (analytics.figure_cache)."""
    health = bot_health(tenant=tenant, bots=bots) if bots else []
    if not health:
        return {"no_bots": True, "onboarding_url": onboarding_url(tenant)}
    run = kpi_last_run(tenant=tenant)
    figures: OverviewFigures = figures_for(tenant=tenant, run=run, kind="overview", query=query)
    report = figures.report
    return {
        "no_bots": False,
        "waiting_for_first_message": all(entry.last_callback_at is None for entry in health),
        "onboarding_url": onboarding_url(tenant),
        "tiles": kpi_tiles(report=report, links=links, default_currency=tenant.default_currency),
        "charts": kpi_charts(report=report, default_currency=tenant.default_currency),
        "unhandled_rate": format_share(_unhandled_rate(report["totals"])),
        "intents": [intent_ranking_row(row, links=links) for row in figures.intents],
        "health": health_badges(health=health, links=links),
        "figures_as_of": run.read_through if run else None,
    }


class AnalyticsPageView(RangedPageView):
    template_name = "analytics/index.html"
    nav_section = "analytics"
    range_form_class = AnalyticsRangeForm

    def figures(self, *, query: AnalyticsQuery, links: DrillDown) -> dict[str, Any]:
        run = kpi_last_run(tenant=self.tenant)
        figures: AnalyticsFigures = figures_for(tenant=self.tenant, run=run, kind="analytics", query=query)
        report, funnel, active = figures.report, figures.funnel, figures.active
        rows_of_retention = retention_rows(figures.retention)
        kpi_rows = kpi_period_rows(report)
        return {
            "active": active,
            "stickiness": format_share(active["stickiness"]),
            "unhandled_rate": format_share(_unhandled_rate(report["totals"])),
            "retention_offsets": list(range(RETENTION_WEEKS + 1)),
            "retention_rows": rows_of_retention,
            "retention_body": retention_markup(rows_of_retention),
            "funnel": funnel,
            "funnel_rows": funnel_rows(funnel, links=links),
            "funnel_revenue": format_revenue(funnel["purchase_revenue"]),
            "intents": intent_rows(figures.intents, links=links),
            "sentiment_chart": sentiment_chart(trend=dict(figures.sentiment)),
            "economics": economics_tables(figures.economics, links=links),
            "kpi_rows": kpi_rows,
            "kpi_body": table_rows_markup(
                (row["period"], [row[column] for column in KPI_PERIOD_COLUMNS]) for row in kpi_rows
            ),
            "kpi_totals": report["totals"],
            "figures_as_of": run.read_through if run else None,
            "export_urls": {
                kind: reverse(f"analytics:export-{kind}", kwargs={"tenant_slug": self.tenant.slug}) for kind in EXPORTS
            },
        }


# --- CSV downloads -----------------------------------------------------------------------------------------------

Table = tuple[Sequence[str], Iterable[Sequence[Any]]]


def _instants(tenant: Tenant, query: AnalyticsQuery) -> tuple[datetime, datetime]:
    zone = tenant.time_zone
    return day_bounds(day=query.start, zone=zone)[0], day_bounds(day=query.end, zone=zone)[1]


def _kpi_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    return kpi_table(kpi_figures(query))


def _interaction_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    since, until = _instants(tenant, query)
    interactions = interaction_list(tenant=tenant).filter(occurred_at__gte=since, occurred_at__lt=until)
    if query.scope.bot_id is not None:
        interactions = interactions.filter(bot_id=query.scope.bot_id)
    if query.scope.group_id is not None:
        interactions = interactions.filter(group_id=query.scope.group_id)
    scoped: Any = ensure_scoped(interactions, tenant=tenant)
    return INTERACTION_HEADER, interaction_rows(interactions=scoped, zone=tenant.time_zone)


def _conversion_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    """Conversions that occurred in the range; with a bot or group, those attributed to its interactions (as
    the figures count them)."""
    since, until = _instants(tenant, query)
    conversions = conversion_list(tenant=tenant).filter(occurred_at__gte=since, occurred_at__lt=until)
    if query.scope.bot_id is not None:
        conversions = conversions.filter(interaction__bot_id=query.scope.bot_id)
    if query.scope.group_id is not None:
        conversions = conversions.filter(interaction__group_id=query.scope.group_id)
    scoped: Any = ensure_scoped(conversions, tenant=tenant)
    return CONVERSION_HEADER, conversion_rows(conversions=scoped, zone=tenant.time_zone)


def _retention_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    retention = retention_cohorts(scope=query.scope, start=query.start, end=query.end, weeks=RETENTION_WEEKS)
    offsets = range(RETENTION_WEEKS + 1)
    header = ["cohort_week", "members", *(f"week_{n}_{part}" for n in offsets for part in ("active", "share"))]
    rows = [
        [cohort["cohort"], cohort["size"], *(value for week in cohort["weeks"] for value in (week["active"],
                                                                                              week["share"]))]
        for cohort in retention["cohorts"]
    ]  # fmt: skip
    return header, rows


def _funnel_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    funnel = conversion_funnel(
        scope=query.scope, start=query.start, end=query.end, window_days=query.numbers.get("window_days")
    )
    currencies = sorted(funnel["purchase_revenue"])
    header = ["step", "reached", "conversions", "rate_from_previous", "rate_from_clicks", "window_days",
              *(f"revenue_{currency}" for currency in currencies)]  # fmt: skip
    rows = []
    for step in funnel["steps"]:
        revenue = [funnel["purchase_revenue"][currency] if step["step"] == "purchase" else None
                   for currency in currencies]  # fmt: skip
        rows.append([step["step"], step["reached"], step["conversions"], step["rate"], step["rate_from_clicks"],
                     funnel["window_days"], *revenue])  # fmt: skip
    return header, rows


def _economics_export(tenant: Tenant, query: AnalyticsQuery) -> Table:
    """One row for the totals, one per group and one per intent; money in minor units, one column per currency
    and figure (ratios with two decimals), never added across currencies."""
    economics = community_economics(scope=query.scope, start=query.start, end=query.end)
    entries: list[tuple[str, Any, Any, dict[str, Any]]] = [("total", "", "", dict(economics["totals"]))]
    entries += [("group", row["group_id"], row["group_name"], dict(row)) for row in economics["groups"]]
    entries += [("intent", "", row["intent"], dict(row)) for row in economics["intents"]]
    money_figures = ("revenue", "revenue_per_engaged_member", "revenue_per_1000_replies", "revenue_per_interaction")
    currencies = sorted({currency for *_, figures in entries for currency in (figures.get("revenue") or {})})
    counts = ("interactions", "engaged_members", "replies", "purchases")
    header = ["row", "group_id", "name", *counts,
              *(f"{figure}_{currency}" for figure in money_figures for currency in currencies)]  # fmt: skip
    rows = []
    for kind, group_id, name, figures in entries:
        money = [(figures.get(figure) or {}).get(currency) for figure in money_figures for currency in currencies]
        rows.append([kind, group_id, name, *(figures.get(count) for count in counts), *money])
    return header, rows


EXPORTS: dict[str, Callable[[Tenant, AnalyticsQuery], Table]] = {
    "kpis": _kpi_export,
    "interactions": _interaction_export,
    "conversions": _conversion_export,
    "retention": _retention_export,
    "funnel": _funnel_export,
    "economics": _economics_export,
}


def _form_errors_text(form: DashboardRangeForm) -> str:
    problems = [
        f"{form.fields[name].label if name in form.fields else name}: {' '.join(str(m) for m in messages)}"
        for name, messages in form.errors.items()
    ]
    return "These filters cannot be used. " + " ".join(problems) + "\n"


class DashboardExportView(TenantViewMixin, View):
    """The figures or rows of the analytics page as a CSV file, streamed, for the page's filters; the tenant is
    the URL's and the user's session says who may read it (the API's exports need an API key)."""

    def get(self, request: HttpRequest, *, tenant_slug: str, kind: str) -> HttpResponseBase:
        export = EXPORTS.get(kind)
        if export is None:
            raise Http404("No such download.")
        form = AnalyticsRangeForm(request.GET, tenant=self.tenant, today=tenant_today(self.tenant))
        if not form.is_valid() or form.query is None:
            return HttpResponseBadRequest(_form_errors_text(form), content_type="text/plain; charset=utf-8")
        header, rows = export(self.tenant, form.query)  # every query but the row stream runs here, before byte one
        response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv; charset=utf-8")
        filename = export_filename(tenant=self.tenant, kind=kind, at=timezone.now())
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
