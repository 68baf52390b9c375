"""The query parameters every analytics endpoint shares: a date range in the tenant's time zone, a granularity,
an optional bot or group, and endpoint-specific whole numbers. Every mistake is reported at once, as a 400 naming
its field."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.http import QueryDict

from analytics.periods import GRANULARITIES
from analytics.selectors import KpiScope
from bots.selectors import bot_get_with_history
from groups.selectors import group_get
from tenants.api.dates import REPORT_DATE_RULE, report_date_in_bounds
from tenants.models import Tenant

MAX_RANGE_DAYS = 800


@dataclass(frozen=True)
class AnalyticsQuery:
    scope: KpiScope
    start: date
    end: date
    granularity: str
    numbers: dict[str, int | None]
    group_of_bot: Any = None  # a bot's member figures are its group's


def _date(params: QueryDict, name: str, errors: dict[str, str]) -> date | None:
    raw = params.get(name)
    if not raw:
        errors[name] = "Required, as YYYY-MM-DD."
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not report_date_in_bounds(day=day):
        errors[name] = REPORT_DATE_RULE
        return None
    return day


def _number(params: QueryDict, name: str, *, low: int, high: int, errors: dict[str, str]) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        errors[name] = f"A whole number from {low} to {high}."
        return None
    return value


def analytics_query(
    params: QueryDict,
    *,
    tenant: Tenant,
    needs_start: bool = True,
    granular: bool = False,
    numbers: dict[str, tuple[int, int]] | None = None,
) -> AnalyticsQuery:
    errors: dict[str, str] = {}
    end = _date(params, "end", errors)
    start = _date(params, "start", errors) if needs_start else end
    granularity = params.get("granularity", "day") if granular else "day"
    if granularity not in GRANULARITIES:
        errors["granularity"] = f"One of {', '.join(GRANULARITIES)}."
    if start and end and end < start:
        errors["end"] = "On or after start."
    elif start and end and (end - start).days + 1 > MAX_RANGE_DAYS:
        errors["end"] = f"A range is at most {MAX_RANGE_DAYS} days."
    checked = {
        name: _number(params, name, low=low, high=high, errors=errors) for name, (low, high) in (numbers or {}).items()
    }
    bot = group = None
    bot_id, group_id = params.get("bot"), params.get("group")
    if bot_id:
        bot = bot_get_with_history(tenant=tenant, bot_id=str(bot_id))
        if bot is None:
            errors["bot"] = "No such bot."
    if group_id:
        group = group_get(tenant=tenant, group_id=str(group_id))
        if group is None:
            errors["group"] = "No such group."
    if errors:
        raise ValidationError(errors)
    assert start is not None
    assert end is not None
    scope = KpiScope(tenant=tenant, bot_id=bot.pk if bot else None, group_id=group.pk if group else None)
    return AnalyticsQuery(
        scope=scope, start=start, end=end, granularity=granularity, numbers=checked,
        group_of_bot=bot.group_id if bot else None,
    )  # fmt: skip
