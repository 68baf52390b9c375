"""Calendar periods of the KPI figures: days, ISO weeks (Monday first) and calendar months."""

from datetime import date, timedelta

from django.utils import timezone

from tenants.models import Tenant

GRANULARITIES = ("day", "week", "month")


def tenant_today(tenant: Tenant) -> date:
    """The date it is now in the tenant's time zone: the last day of every preset range."""
    return timezone.now().astimezone(tenant.time_zone).date()


def period_start(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def period_next(start: date, granularity: str) -> date:
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def period_end(start: date, granularity: str) -> date:
    """The last day of the period that begins on `start`."""
    return period_next(start, granularity) - timedelta(days=1)


def periods_between(start: date, end: date, granularity: str) -> list[date]:
    """The first day of every period that overlaps start..end (the first may begin before `start`)."""
    periods: list[date] = []
    current = period_start(start, granularity)
    while current <= end:
        periods.append(current)
        current = period_next(current, granularity)
    return periods
