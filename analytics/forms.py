"""The date-range control the overview and the analytics page share: a preset or custom dates in the tenant's time
zone, a bot, a group and the chart periods, all in the query string so every view of the figures is a shareable URL.

Presets only fill in `since` and `until`; every value is then checked by `analytics_query`, the parser the API
uses, so the pages accept exactly what the API accepts and report a mistake the same way.
"""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from analytics.api.params import AnalyticsQuery, analytics_query
from analytics.periods import tenant_today
from bots.models import Bot
from bots.selectors import bot_list
from groups.selectors import group_list
from tenants.models import Tenant

CUSTOM = "custom"
DEFAULT_PRESET = "30d"
PRESETS: dict[str, str] = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "this_month": "This month",
    "last_month": "Last month",
    "ytd": "Year to date",
    CUSTOM: "Custom dates",
}
GRANULARITY_CHOICES = [("", "Automatic"), ("day", "Days"), ("week", "Weeks"), ("month", "Months")]
FUNNEL_WINDOW_CHOICES = [
    ("", "Each source's own window"),
    ("1", "1 day"),
    ("7", "7 days"),
    ("14", "14 days"),
    ("30", "30 days"),
    ("60", "60 days"),
    ("90", "90 days"),
]
# analytics_query names the range `start`/`end`; on the pages (and in every drill-down link) they are since/until.
_FIELD_OF_PARAM = {"start": "since", "end": "until"}
_CLEARER = {"On or after start.": "On or after the From date."}
# The query-string names that make up the filters, in the order links carry them.
FILTER_PARAMS = ("range", "since", "until", "bot", "group", "granularity", "window_days")


def preset_range(preset: str, *, today: date) -> tuple[date, date]:
    """The inclusive dates a preset stands for, `today` being the tenant's local date."""
    if preset == "7d":
        return today - timedelta(days=6), today
    if preset == "90d":
        return today - timedelta(days=89), today
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        last_day = today.replace(day=1) - timedelta(days=1)
        return last_day.replace(day=1), last_day
    if preset == "ytd":
        return today.replace(month=1, day=1), today
    return today - timedelta(days=29), today


def auto_granularity(start: date, end: date) -> str:
    """Days up to about a quarter, weeks up to a year, months beyond: a readable number of points per chart."""
    days = (end - start).days + 1
    if days <= 92:
        return "day"
    return "week" if days <= 366 else "month"


class DashboardRangeForm(forms.Form):
    range = forms.ChoiceField(label="Date range", choices=list(PRESETS.items()), required=False)
    since = forms.CharField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    until = forms.CharField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    bot = forms.CharField(label="Bot", required=False, widget=forms.Select)
    group = forms.CharField(label="Group", required=False, widget=forms.Select)
    granularity = forms.ChoiceField(label="Chart periods", choices=GRANULARITY_CHOICES, required=False)

    # Whole-number parameters a page adds (name -> inclusive bounds), checked by analytics_query as well.
    numbers: ClassVar[dict[str, tuple[int, int]]] = {}

    def __init__(self, params: QueryDict, *, tenant: Tenant, today: date) -> None:
        data = params.copy()
        preset = data.get("range") or (CUSTOM if data.get("since") or data.get("until") else DEFAULT_PRESET)
        data["range"] = preset
        if preset in PRESETS and preset != CUSTOM:
            start, end = preset_range(preset, today=today)
            data["since"], data["until"] = start.isoformat(), end.isoformat()
        super().__init__(data)
        self.tenant = tenant
        self.query: AnalyticsQuery | None = None
        # Whole bots, not just names: the overview hands them on to bot_health, which then need not load them again.
        self.bots: list[Bot] = list(bot_list(tenant=tenant).order_by("name", "pk"))
        groups = group_list(tenant=tenant).order_by("name", "pk").values_list("pk", "name")
        self.fields["bot"].widget.choices = [("", "All bots"), *((str(bot.pk), bot.name) for bot in self.bots)]
        self.fields["group"].widget.choices = [("", "All groups"), *((str(pk), name) for pk, name in groups)]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        params = QueryDict(mutable=True)
        params.update({"start": cleaned.get("since") or "", "end": cleaned.get("until") or ""})
        for name in ("bot", "group", "granularity", *self.numbers):
            if value := self.data.get(name):
                params[name] = value
        try:
            query = analytics_query(
                params, tenant=self.tenant, granular=bool(cleaned.get("granularity")), numbers=self.numbers
            )
        except ValidationError as error:
            for param, messages in error.message_dict.items():
                field = _FIELD_OF_PARAM.get(param, param)
                for message in messages:
                    self.add_error(field, _CLEARER.get(message, message))
            return cleaned
        if not cleaned.get("granularity"):
            query = replace(query, granularity=auto_granularity(query.start, query.end))
        self.query = query
        return cleaned

    @property
    def filter_params(self) -> dict[str, str]:
        """The filters as they were chosen (a preset stays a preset), for links that keep them."""
        chosen = {name: self.data.get(name, "") for name in FILTER_PARAMS if name in self.fields}
        if chosen.get("range") != CUSTOM:
            chosen.pop("since", None)
            chosen.pop("until", None)
        return {name: value for name, value in chosen.items() if value}


class AnalyticsRangeForm(DashboardRangeForm):
    """The analytics page also chooses the funnel's conversion window."""

    # Any whole number of days the API accepts; the menu offers the usual ones.
    window_days = forms.CharField(
        label="Conversion window", required=False, widget=forms.Select(choices=FUNNEL_WINDOW_CHOICES)
    )

    numbers: ClassVar[dict[str, tuple[int, int]]] = {"window_days": (1, 365)}


def default_queries(*, tenant: Tenant) -> dict[str, AnalyticsQuery]:
    """What the overview and the analytics page show when nothing is chosen (the default range, every bot and group),
    by figure set: built by the pages' own forms, so the figures kept for them are the ones those views ask for."""
    queries: dict[str, AnalyticsQuery] = {}
    today = tenant_today(tenant)
    for kind, form_class in (("overview", DashboardRangeForm), ("analytics", AnalyticsRangeForm)):
        form = form_class(QueryDict(), tenant=tenant, today=today)
        if form.is_valid() and form.query is not None:
            queries[kind] = form.query
    return queries
