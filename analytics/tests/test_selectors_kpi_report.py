"""kpi_report sums its rollups in the database: `previous` holds exactly the figures a report of that period has, and
a long range costs the same statements as a short one."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.selectors import KpiScope, kpi_report
from analytics.services import kpi_aggregate_tenant
from bots.tests.factories import BotFactory, InteractionFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.tests.factories import ConversionFactory, MonetizationSourceFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")


def _history(tenant, *, first: date, days: int) -> None:
    """A bot's interactions every few days with varied reply times and sentiment, and money in two currencies
    (a refund among it)."""
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant))
    members = [MemberFactory(tenant=tenant, group=bot.group) for _ in range(4)]
    source = MonetizationSourceFactory(tenant=tenant)
    for offset in range(0, days, 3):
        at = datetime.combine(first + timedelta(days=offset), datetime.min.time(), tzinfo=CHICAGO) + timedelta(hours=9)
        member = members[offset % 4]
        message = MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, sent_at=at)
        interaction = InteractionFactory(
            tenant=tenant, bot=bot, group=bot.group, member=member, message=message, occurred_at=at,
            handled=offset % 5 != 0, reply_status="sent", response_time_ms=40 + offset * 37 % 4000,
            sentiment=(offset % 7 - 3) / 3,
        )  # fmt: skip
        if offset % 4 == 0:
            ConversionFactory(
                tenant=tenant, source=source, interaction=interaction, occurred_at=at + timedelta(hours=1),
                outcome="refund" if offset % 24 == 0 else "purchase", currency="EUR" if offset % 8 == 0 else "USD",
                amount=-300 if offset % 24 == 0 else 1000 + offset,
            )  # fmt: skip


def test_previous_holds_the_figures_of_a_report_of_that_period(tenant):
    tenant.time_zone = CHICAGO
    tenant.save()
    _history(tenant, first=date(2026, 5, 1), days=200)
    kpi_aggregate_tenant(tenant=tenant, full=True)
    scope = KpiScope(tenant=tenant)

    report = kpi_report(scope=scope, start=date(2026, 8, 18), end=date(2026, 11, 15), granularity="week")
    earlier = kpi_report(scope=scope, start=date(2026, 5, 20), end=date(2026, 8, 17), granularity="month")

    previous = dict(report["previous"])
    assert (previous.pop("start"), previous.pop("end")) == ("2026-05-20", "2026-08-17")
    assert previous == earlier["totals"]
    assert set(previous["revenue"]) == {"EUR", "USD"}
    assert previous["response_time_p95_ms"] is not None
    # The totals are the series added up, whatever the periods.
    assert report["totals"]["interactions"] == sum(entry["interactions"] for entry in report["series"])
    assert report["totals"]["revenue"] == {
        currency: sum(entry["revenue"].get(currency, 0) for entry in report["series"])
        for currency in report["totals"]["revenue"]
    }


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_a_year_costs_the_statements_of_a_week(tenant, granularity, django_assert_max_num_queries):
    tenant.time_zone = CHICAGO
    tenant.save()
    _history(tenant, first=date(2025, 11, 1), days=380)
    kpi_aggregate_tenant(tenant=tenant, full=True)
    scope = KpiScope(tenant=tenant)

    # rollups of the range summed per period, of the previous period summed; active members of both; the stored
    # per-period counts; at most two periods cut by the range's ends, counted live
    with django_assert_max_num_queries(7):
        year = kpi_report(scope=scope, start=date(2025, 11, 16), end=date(2026, 11, 15), granularity=granularity)
    assert year["totals"]["interactions"] > 100
