"""The insights API: each figure on small hand-built data, days cut in the tenant's zone, nothing of another tenant,
400s naming the field, and a fixed number of queries however much data there is."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from analytics.insights import (
    community_economics,
    conversion_funnel,
    intent_figures,
    sentiment_trend,
    sentiment_trend_of,
    top_intents,
    top_intents_of,
)
from analytics.models import DailyRollup
from analytics.selectors import KpiScope, rollup_sums
from analytics.services import kpi_aggregate_tenant, kpi_day_rebuild
from bots.tests.factories import BotFactory, InteractionFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.ledger import revenue_totals
from monetization.services import source_update
from monetization.tests.factories import ClickFactory, ConversionFactory, MonetizationSourceFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
BASE = "/api/v1/insights"


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=CHICAGO)


@pytest.fixture
def world(tenant):
    """A Chicago tenant with two bots in two groups, three members in each, and a 30-day source."""
    tenant.time_zone = CHICAGO
    tenant.save()
    bots = [BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, name=name)) for name in ("Anglers", "Boats")]
    members = {bot.pk: [MemberFactory(tenant=tenant, group=bot.group) for _ in range(3)] for bot in bots}
    source = MonetizationSourceFactory(tenant=tenant, attribution_window_days=30)
    return {"tenant": tenant, "bots": bots, "members": members, "source": source}


def _message(world, *, bot, member, at):
    return MessageFactory(tenant=world["tenant"], group=bot.group, bot=bot, member=member, sent_at=at)


def _interaction(world, *, bot, member, at, intent="help", handled=True, sent=True, sentiment=0.0):
    return InteractionFactory(
        tenant=world["tenant"], bot=bot, group=bot.group, member=member, occurred_at=at, intent=intent,
        handled=handled, reply_status="sent" if sent else "failed", sentiment=sentiment,
        message=_message(world, bot=bot, member=member, at=at),
    )  # fmt: skip


def _click(world, *, interaction, at, is_bot=False):
    return ClickFactory(tenant=world["tenant"], interaction=interaction, clicked_at=at, is_bot=is_bot)


def _conversion(world, *, outcome="purchase", amount=1000, currency="USD", at, click=None, interaction=None,
                source=None):  # fmt: skip
    if click is not None and interaction is None:
        interaction = click.interaction
    return ConversionFactory(
        tenant=world["tenant"], source=source or world["source"], outcome=outcome, amount=amount, currency=currency,
        occurred_at=at, attributed_click=click, interaction=interaction,
    )  # fmt: skip


# --- Active members ----------------------------------------------------------------------------------------------


def test_dau_wau_and_mau_count_distinct_members_in_their_windows(world, api):
    bot, other_bot = world["bots"]
    ana, bo, cy = world["members"][bot.pk]
    dee, eve, _ = world["members"][other_bot.pk]
    end = date(2026, 10, 31)
    # 03:30 UTC on 1 November is 22:30 on 31 October in Chicago: ana is active on the end day.
    _message(world, bot=bot, member=ana, at=datetime(2026, 11, 1, 3, 30, tzinfo=UTC))
    _message(world, bot=bot, member=ana, at=_at(end - timedelta(days=3), 9))  # the same member again: once
    _message(world, bot=bot, member=bo, at=_at(end - timedelta(days=6), 9))  # the first day of the week
    _message(world, bot=bot, member=cy, at=_at(end - timedelta(days=7), 9))  # a day before the week
    _message(world, bot=other_bot, member=dee, at=_at(end - timedelta(days=29), 9))  # the first day of the 30
    _message(world, bot=other_bot, member=eve, at=_at(end - timedelta(days=30), 9))  # a day before them
    kpi_aggregate_tenant(tenant=world["tenant"])

    figures = api.get(f"{BASE}/active-members/", {"end": end.isoformat()}).json()

    assert (figures["dau"], figures["wau"], figures["mau"]) == (1, 2, 4)
    assert figures["stickiness"] == 0.25
    assert (figures["wau_start"], figures["mau_start"]) == ("2026-10-25", "2026-10-02")
    assert api.get(f"{BASE}/active-members/", {"end": "2026-11-01"}).json()["dau"] == 0


def test_windows_reaching_into_the_previous_year_count_each_member_once(world, api):
    bot, _ = world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    _message(world, bot=bot, member=ana, at=_at(date(2025, 12, 20), 9))
    _message(world, bot=bot, member=ana, at=_at(date(2026, 1, 2), 9))
    _message(world, bot=bot, member=bo, at=_at(date(2025, 12, 31), 9))
    # A year before the end day, outside every window: a day-of-year read on the wrong year's row would count it.
    _message(world, bot=bot, member=bo, at=_at(date(2025, 1, 3), 9))
    kpi_aggregate_tenant(tenant=world["tenant"])

    figures = api.get(f"{BASE}/active-members/", {"end": "2026-01-03"}).json()

    assert (figures["dau"], figures["wau"], figures["mau"]) == (0, 2, 2)
    assert api.get(f"{BASE}/active-members/", {"end": "2026-01-02"}).json()["dau"] == 1


def test_active_members_narrow_to_a_group_or_to_a_bots_group(world, api):
    bot, other_bot = world["bots"]
    day = date(2026, 10, 20)
    for member in world["members"][bot.pk]:
        _message(world, bot=bot, member=member, at=_at(day, 9))
    _message(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(day, 9))
    kpi_aggregate_tenant(tenant=world["tenant"])
    params = {"end": day.isoformat()}

    assert api.get(f"{BASE}/active-members/", params).json()["dau"] == 4
    assert api.get(f"{BASE}/active-members/", {**params, "bot": str(bot.pk)}).json()["dau"] == 3
    assert api.get(f"{BASE}/active-members/", {**params, "group": str(other_bot.group_id)}).json()["dau"] == 1


# --- Retention ---------------------------------------------------------------------------------------------------


def test_retention_cohorts_by_first_active_week_with_the_share_active_later(world, api):
    bot = world["bots"][0]
    ana, bo, cy = world["members"][bot.pk]
    veteran = world["members"][world["bots"][1].pk][0]
    monday = date(2026, 9, 7)
    days_active = {
        ana: [monday, monday + timedelta(days=8), monday + timedelta(days=15), monday + timedelta(days=22)],
        bo: [monday + timedelta(days=6), monday + timedelta(days=20)],  # Sunday of week 0, then week 2
        cy: [monday + timedelta(days=7), monday + timedelta(days=14)],  # the next cohort, back in its week 1
        veteran: [date(2026, 8, 20), monday + timedelta(days=1)],  # first seen before the range: no cohort here
    }
    for member, days in days_active.items():
        for day in days:
            _message(world, bot=world["bots"][0 if member.group_id == bot.group_id else 1], member=member,
                     at=_at(day, 12))  # fmt: skip
    kpi_aggregate_tenant(tenant=world["tenant"])

    # From a Wednesday: the cohort is its whole ISO week, Monday included. Nothing after `end` is read.
    report = api.get(f"{BASE}/retention/", {"start": "2026-09-09", "end": "2026-09-27", "weeks": "3"}).json()

    cohorts = {cohort["cohort"]: cohort for cohort in report["cohorts"]}
    assert list(cohorts) == ["2026-09-07", "2026-09-14", "2026-09-21"]
    assert [cohort["size"] for cohort in cohorts.values()] == [2, 1, 0]
    assert [week["share"] for week in cohorts["2026-09-07"]["weeks"]] == [1.0, 0.5, 1.0, None]
    assert [week["active"] for week in cohorts["2026-09-07"]["weeks"]] == [2, 1, 2, None]
    assert [week["share"] for week in cohorts["2026-09-14"]["weeks"]] == [1.0, 1.0, None, None]
    assert [week["share"] for week in cohorts["2026-09-21"]["weeks"]] == [0, None, None, None]
    assert [week["week"] for week in cohorts["2026-09-14"]["weeks"]] == [
        "2026-09-14", "2026-09-21", "2026-09-28", "2026-10-05"
    ]  # fmt: skip


# --- Funnel ------------------------------------------------------------------------------------------------------


def test_the_funnel_follows_clicks_of_the_range_within_each_sources_window(world, api):
    bot = world["bots"][0]
    ana = world["members"][bot.pk][0]
    day = date(2026, 10, 10)
    interaction = _interaction(world, bot=bot, member=ana, at=_at(day, 9))
    full = _click(world, interaction=interaction, at=_at(day, 10))
    straight_to_purchase = _click(world, interaction=interaction, at=_at(day, 11))
    late = _click(world, interaction=interaction, at=_at(day, 12))
    # 04:30 UTC on the 11th is 23:30 on the 10th in Chicago: still a click of the range.
    short_window = _click(world, interaction=interaction, at=datetime(2026, 10, 11, 4, 30, tzinfo=UTC))
    _click(world, interaction=interaction, at=_at(day, 13), is_bot=True)  # a link preview: not a click
    before = _click(world, interaction=interaction, at=datetime(2026, 10, 1, 4, 30, tzinfo=UTC))  # 30 September
    week_source = MonetizationSourceFactory(tenant=world["tenant"], attribution_window_days=7)

    for outcome, after in (("signup", 0), ("checkout", 1), ("purchase", 2)):
        _conversion(world, outcome=outcome, amount=4000 if outcome == "purchase" else 0, click=full,
                    at=_at(day + timedelta(days=after), 15))  # fmt: skip
    _conversion(world, click=straight_to_purchase, amount=2500, currency="EUR", at=_at(day + timedelta(days=10), 9))
    _conversion(world, outcome="signup", amount=0, click=late, at=_at(day + timedelta(days=31), 9))  # outside 30 days
    _conversion(world, outcome="signup", amount=0, click=short_window, source=week_source,
                at=_at(day + timedelta(days=8), 9))  # outside its source's 7 days  # fmt: skip
    _conversion(world, click=before, at=_at(day, 9))  # its click was before the range
    params = {"start": "2026-10-01", "end": day.isoformat()}
    kpi_aggregate_tenant(tenant=world["tenant"])  # the funnel's clicks are the rollups'

    funnel = api.get(f"{BASE}/funnel/", params).json()

    steps = {step["step"]: step for step in funnel["steps"]}
    assert [step["step"] for step in funnel["steps"]] == ["click", "signup", "checkout", "purchase"]
    assert [steps[name]["reached"] for name in steps] == [4, 2, 2, 2]
    assert [steps[name]["conversions"] for name in steps] == [4, 1, 1, 2]
    assert [steps[name]["rate"] for name in steps] == [None, 0.5, 1.0, 1.0]
    assert steps["purchase"]["rate_from_clicks"] == 0.5
    assert funnel["purchase_revenue"] == {"EUR": 2500, "USD": 4000}
    assert funnel["window_days"] is None

    # A fixed window applies to every source: 9 days keeps the purchase 2 days on, drops the one 10 days on.
    fixed = api.get(f"{BASE}/funnel/", {**params, "window_days": "9"}).json()
    assert [step["reached"] for step in fixed["steps"]] == [4, 2, 1, 1]
    assert fixed["purchase_revenue"] == {"USD": 4000}
    wide = api.get(f"{BASE}/funnel/", {**params, "window_days": "40"}).json()
    assert [step["reached"] for step in wide["steps"]] == [4, 4, 2, 2]


def test_the_funnel_is_as_of_the_last_kpi_run_so_no_conversion_outnumbers_its_clicks(world, api):
    bot = world["bots"][0]
    day = date(2026, 10, 10)
    interaction = _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(day, 9))
    _conversion(world, outcome="signup", amount=0, click=_click(world, interaction=interaction, at=_at(day, 10)),
                at=_at(day, 11))  # fmt: skip
    params = {"start": "2026-10-01", "end": "2026-10-31"}

    def reached():
        return [step["reached"] for step in api.get(f"{BASE}/funnel/", params).json()["steps"]]

    assert reached() == [0, 0, 0, 0]  # before the first run: nothing, like every rolled-up figure
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert reached() == [1, 1, 0, 0]
    # A click and its signup made after the run: neither counts until the next run, then both do.
    later = _click(world, interaction=interaction, at=timezone.now())
    _conversion(world, outcome="signup", amount=0, click=later, at=timezone.now())
    params["end"] = timezone.localdate(timezone.now(), CHICAGO).isoformat()
    assert reached() == [1, 1, 0, 0]
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert reached() == [2, 2, 0, 0]


def test_a_conversion_for_an_earlier_days_click_counts_from_the_next_run(world, api):
    """The funnel is kept per day of the clicks; a conversion comes days after its click, and the next run rebuilds
    the funnel of the click's day (only that: the day's other figures did not change)."""
    bot = world["bots"][0]
    day = date(2026, 10, 10)
    interaction = _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(day, 9))
    click = _click(world, interaction=interaction, at=_at(day, 10))
    kpi_aggregate_tenant(tenant=world["tenant"], full=True)
    params = {"start": day.isoformat(), "end": day.isoformat()}

    def funnel():
        body = api.get(f"{BASE}/funnel/", params).json()
        return [step["reached"] for step in body["steps"]], body["purchase_revenue"]

    assert funnel() == ([1, 0, 0, 0], {})
    _conversion(world, click=click, amount=2500, at=_at(day + timedelta(days=12), 9))
    assert funnel() == ([1, 0, 0, 0], {})  # until the next run, as every figure
    rolled_up = DailyRollup.objects.filter(tenant=world["tenant"], day=day).values_list("pk", flat=True)
    before = set(rolled_up)

    kpi_aggregate_tenant(tenant=world["tenant"])

    assert funnel() == ([1, 1, 1, 1], {"USD": 2500})
    assert set(rolled_up) == before  # the click's day kept its daily rollups: only its funnel was rebuilt


def test_a_sources_changed_window_recuts_the_funnel_at_the_next_run(world, api):
    bot = world["bots"][0]
    day = date(2026, 10, 10)
    interaction = _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(day, 9))
    _conversion(
        world, click=_click(world, interaction=interaction, at=_at(day, 10)), at=_at(day + timedelta(days=20), 9)
    )
    kpi_aggregate_tenant(tenant=world["tenant"], full=True)
    params = {"start": day.isoformat(), "end": day.isoformat()}

    def purchases_reached():
        return api.get(f"{BASE}/funnel/", params).json()["steps"][3]["reached"]

    assert purchases_reached() == 1  # 20 days after the click, within the source's 30
    source_update(source=world["source"], attribution_window_days=14)
    assert purchases_reached() == 1  # as of the last run
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert purchases_reached() == 0
    source_update(source=world["source"], attribution_window_days=21)
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert purchases_reached() == 1


# --- Intents -----------------------------------------------------------------------------------------------------


def test_top_intents_with_unhandled_share_sentiment_and_attributed_money(world, api):
    bot = world["bots"][0]
    ana, bo, _ = world["members"][bot.pk]
    day = date(2026, 10, 10)
    prices = [
        _interaction(world, bot=bot, member=ana, at=_at(day, 9), intent="price", sentiment=0.8),
        _interaction(world, bot=bot, member=bo, at=_at(day, 10), intent="price", sentiment=0.2),
        _interaction(world, bot=bot, member=bo, at=_at(day, 11), intent="price", handled=False, sentiment=-0.1),
    ]
    # 04:00 UTC on the 11th is 23:00 on the 10th in Chicago; 06:00 UTC is the 11th, outside the range.
    help_late = _interaction(world, bot=bot, member=ana, at=datetime(2026, 10, 11, 4, 0, tzinfo=UTC), sentiment=0.4)
    _interaction(world, bot=bot, member=ana, at=_at(day, 8), sentiment=0.0)
    _interaction(world, bot=bot, member=ana, at=datetime(2026, 10, 11, 6, 0, tzinfo=UTC), intent="price")
    _interaction(world, bot=bot, member=ana, at=_at(day, 12), intent="", handled=False, sentiment=-0.5)
    _conversion(world, interaction=prices[0], amount=5000, at=_at(day, 13))
    _conversion(world, interaction=prices[1], outcome="refund", amount=-1000, at=_at(day, 14))
    _conversion(world, interaction=help_late, amount=700, currency="EUR", at=_at(day, 15))
    _conversion(world, interaction=help_late, outcome="signup", amount=0, currency="EUR", at=_at(day, 15))
    _conversion(world, amount=300, at=_at(day, 16))  # no interaction: no intent's money
    params = {"start": day.isoformat(), "end": day.isoformat()}
    kpi_aggregate_tenant(tenant=world["tenant"])  # top intents read the intent rollups

    rows = api.get(f"{BASE}/intents/", params).json()["intents"]

    assert [(row["intent"], row["interactions"], row["unhandled"]) for row in rows] == [
        ("price", 3, 1), ("help", 2, 0), ("", 1, 1)
    ]  # fmt: skip
    price, help_, none = rows
    assert price["unhandled_share"] == round(1 / 3, 4)
    assert price["sentiment_avg"] == round((0.8 + 0.2 - 0.1) / 3, 4)
    assert (price["purchases"], price["revenue"]) == (1, {"USD": 4000})
    assert (help_["purchases"], help_["revenue"], help_["sentiment_avg"]) == (1, {"EUR": 700}, 0.2)
    assert (none["unhandled_share"], none["purchases"], none["revenue"]) == (1.0, 0, {})
    limited = api.get(f"{BASE}/intents/", {**params, "limit": "1"}).json()["intents"]
    assert [row["intent"] for row in limited] == ["price"]
    # The analytics page shapes the same rows from intent figures it reads once for economics too.
    scope = KpiScope(tenant=world["tenant"])
    read_once = intent_figures(scope=scope, start=day, end=day)
    for limit in (10, 1):
        assert top_intents_of(read_once, limit=limit) == top_intents(scope=scope, start=day, end=day, limit=limit)


# --- Sentiment trend ---------------------------------------------------------------------------------------------


def test_sentiment_and_unhandled_rate_per_period_from_the_rollups_with_gaps_present(world, api):
    bot, other_bot = world["bots"]
    ana = world["members"][bot.pk][0]
    monday = date(2026, 10, 5)
    _interaction(world, bot=bot, member=ana, at=_at(monday, 9), sentiment=0.8)
    _interaction(world, bot=bot, member=ana, at=_at(monday, 10), sentiment=-0.4, handled=False)
    _interaction(world, bot=bot, member=ana, at=_at(monday + timedelta(days=2), 9), sentiment=0.5)
    _interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(monday, 9), sentiment=-1.0)
    # 04:00 UTC on the 8th is 23:00 on the 7th in Chicago.
    _interaction(world, bot=bot, member=ana, at=datetime(2026, 10, 8, 4, 0, tzinfo=UTC), sentiment=0.1)
    kpi_aggregate_tenant(tenant=world["tenant"])
    params = {"start": "2026-10-05", "end": "2026-10-07", "bot": str(bot.pk)}

    daily = api.get(f"{BASE}/sentiment/", params).json()

    assert [(p["period"], p["interactions"], p["sentiment_avg"], p["unhandled_rate"]) for p in daily["series"]] == [
        ("2026-10-05", 2, 0.2, 0.5),
        ("2026-10-06", 0, None, None),
        ("2026-10-07", 2, 0.3, 0.0),
    ]
    assert daily["totals"] == {"interactions": 4, "unhandled": 1, "unhandled_rate": 0.25, "sentiment_avg": 0.25}
    weekly = api.get(f"{BASE}/sentiment/", {**params, "bot": "", "granularity": "week"}).json()
    assert [(p["period"], p["interactions"], p["sentiment_avg"]) for p in weekly["series"]] == [
        ("2026-10-05", 5, 0.0)
    ]  # fmt: skip


def test_the_analytics_page_shapes_sentiment_and_funnel_clicks_from_the_kpi_reports_rollup_sums(world):
    """The page reads the daily rollups once for its KPI report, its sentiment trend and its funnel's clicks: the
    same figures the sentiment and funnel selectors read on their own, for every scope and granularity."""
    bot, other_bot = world["bots"]
    ana, dee = world["members"][bot.pk][0], world["members"][other_bot.pk][0]
    monday = date(2026, 9, 28)
    for offset, sentiment in ((0, 0.8), (1, -0.4), (9, 0.5), (33, -1.0)):
        _interaction(world, bot=bot, member=ana, at=_at(monday + timedelta(days=offset), 9), sentiment=sentiment)
    tilted = _interaction(world, bot=other_bot, member=dee, at=_at(monday + timedelta(days=2), 9), handled=False)
    _click(world, interaction=tilted, at=_at(monday + timedelta(days=2), 10))
    kpi_aggregate_tenant(tenant=world["tenant"])
    start, end = monday + timedelta(days=1), monday + timedelta(days=40)  # cuts a week and a month at both ends

    for scope in (
        KpiScope(tenant=world["tenant"]),
        KpiScope(tenant=world["tenant"], bot_id=bot.pk),
        KpiScope(tenant=world["tenant"], group_id=other_bot.group_id),
    ):
        for granularity in ("day", "week", "month"):
            sums = rollup_sums(scope=scope, start=start, end=end, granularity=granularity)
            assert sentiment_trend_of(sums) == sentiment_trend(
                scope=scope, start=start, end=end, granularity=granularity
            )
        shared = conversion_funnel(scope=scope, start=start, end=end, clicked=sums.total.counters["clicks"])
        assert shared == conversion_funnel(scope=scope, start=start, end=end)
    assert shared["steps"][0]["reached"] == 1  # the group's one human click


# --- Economics ---------------------------------------------------------------------------------------------------


def test_engaged_members_are_those_the_kpi_job_saw_interact_and_follow_each_rebuilt_day(world):
    """From the member-years' interaction days, as of the last KPI run: a member who only chatted is not engaged,
    and rebuilding one day keeps the other days' interaction days. A bot's figure counts its own interactions."""
    bot, other_bot = world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    dee = world["members"][other_bot.pk][0]
    first, second = date(2026, 10, 10), date(2026, 10, 11)
    _interaction(world, bot=bot, member=ana, at=_at(first, 9))
    _message(world, bot=bot, member=bo, at=_at(first, 10))  # chatter only: active, not engaged
    _interaction(world, bot=other_bot, member=dee, at=_at(second, 9))
    kpi_aggregate_tenant(tenant=world["tenant"], full=True)

    def engaged(start, end, **scope):
        economics = community_economics(scope=KpiScope(tenant=world["tenant"], **scope), start=start, end=end)
        return economics["totals"]["engaged_members"]

    assert (engaged(first, first), engaged(second, second), engaged(first, second)) == (1, 1, 2)

    _interaction(world, bot=bot, member=bo, at=_at(second, 12))
    assert engaged(second, second) == 1  # made after the run: counted from the next one
    kpi_day_rebuild(tenant=world["tenant"], day=second)
    assert (engaged(first, first), engaged(second, second), engaged(first, second)) == (1, 2, 3)
    assert (engaged(first, second, group_id=bot.group_id), engaged(first, second, bot_id=bot.pk)) == (2, 2)
    assert engaged(first, second, bot_id=other_bot.pk) == 1


def test_community_economics_per_group_engaged_member_reply_and_intent(world, api):
    bot, other_bot = world["bots"]
    ana, bo, lurker = world["members"][bot.pk]
    dee = world["members"][other_bot.pk][0]
    day = date(2026, 10, 10)
    price = _interaction(world, bot=bot, member=ana, at=_at(day, 9), intent="price")
    _interaction(world, bot=bot, member=ana, at=_at(day, 10), intent="price", sent=False)  # no reply went out
    tip = _interaction(world, bot=bot, member=bo, at=_at(day, 11), intent="tip")
    _interaction(world, bot=other_bot, member=dee, at=_at(day, 11), intent="price")
    _interaction(world, bot=bot, member=bo, at=_at(day - timedelta(days=1), 11), intent="tip")  # before the range
    _message(world, bot=bot, member=lurker, at=_at(day, 12))  # active, but never talked to the bot: not engaged
    _conversion(world, interaction=price, amount=6000, at=_at(day, 13))
    _conversion(world, interaction=price, outcome="refund", amount=-1000, at=_at(day, 14))
    _conversion(world, interaction=tip, outcome="donation", amount=300, currency="EUR", at=_at(day, 15))
    _conversion(world, amount=999, at=_at(day, 16))  # nobody's interaction
    params = {"start": day.isoformat(), "end": day.isoformat()}
    kpi_aggregate_tenant(tenant=world["tenant"])  # interactions, replies and money come from the rollups

    economics = api.get(f"{BASE}/economics/", params).json()

    totals = economics["totals"]
    assert totals["revenue"] == {"EUR": 300, "USD": 5999}
    assert (totals["interactions"], totals["engaged_members"], totals["replies"]) == (4, 3, 3)
    assert totals["revenue_per_engaged_member"] == {"EUR": 100.0, "USD": round(5999 / 3, 2)}
    assert totals["revenue_per_1000_replies"] == {"EUR": 100000.0, "USD": round(5999 * 1000 / 3, 2)}
    groups = {row["group_name"]: row for row in economics["groups"]}
    assert list(groups) == ["Anglers", "Boats", "unattributed"]
    anglers, boats, nobody = groups.values()
    assert anglers["group_id"] == str(bot.group_id)
    assert (anglers["revenue"], anglers["engaged_members"], anglers["replies"]) == ({"EUR": 300, "USD": 5000}, 2, 2)
    assert anglers["revenue_per_engaged_member"] == {"EUR": 150.0, "USD": 2500.0}
    assert anglers["revenue_per_1000_replies"] == {"EUR": 150000.0, "USD": 2500000.0}
    assert (boats["revenue"], boats["engaged_members"], boats["revenue_per_engaged_member"]) == ({}, 1, {})
    assert (nobody["group_id"], nobody["revenue"], nobody["revenue_per_engaged_member"]) == (None, {"USD": 999}, None)
    intents = {row["intent"]: row for row in economics["intents"]}
    assert list(intents) == ["price", "tip", None]
    assert (intents["price"]["interactions"], intents["price"]["revenue"]) == (3, {"USD": 5000})
    assert intents["price"]["revenue_per_interaction"] == {"USD": round(5000 / 3, 2)}
    assert (intents["tip"]["purchases"], intents["tip"]["revenue"]) == (0, {"EUR": 300})
    # Every split adds up to the ledger's revenue for the range.
    ledger = revenue_totals(tenant=world["tenant"], start=day, end=day)
    for split in (economics["groups"], economics["intents"]):
        added = {}
        for row in split:
            for currency, amount in row["revenue"].items():
                added[currency] = added.get(currency, 0) + amount
        assert added == ledger == totals["revenue"]

    one_group = api.get(f"{BASE}/economics/", {**params, "group": str(bot.group_id)}).json()
    assert [row["group_name"] for row in one_group["groups"]] == ["Anglers"]
    assert one_group["totals"]["revenue"] == {"EUR": 300, "USD": 5000}
    # Given intent figures read already (the analytics page's way), the same economics.
    for scope in (KpiScope(tenant=world["tenant"]), KpiScope(tenant=world["tenant"], group_id=bot.group_id)):
        read_once = intent_figures(scope=scope, start=day, end=day)
        given = community_economics(scope=scope, start=day, end=day, by_intent=read_once)
        assert given == community_economics(scope=scope, start=day, end=day)


# --- Tenancy, parameters, queries --------------------------------------------------------------------------------

ENDPOINTS = {
    "active-members": ({"end": "2026-10-10"}, lambda body: body["mau"]),
    "retention": ({"start": "2026-10-01", "end": "2026-10-31"}, lambda body: sum(c["size"] for c in body["cohorts"])),
    "funnel": ({"start": "2026-10-01", "end": "2026-10-31"}, lambda body: body["steps"][0]["reached"]),
    "intents": (
        {"start": "2026-10-01", "end": "2026-10-31"},
        lambda body: sum(i["interactions"] for i in body["intents"]),
    ),
    "sentiment": ({"start": "2026-10-01", "end": "2026-10-31"}, lambda body: body["totals"]["interactions"]),
    "economics": ({"start": "2026-10-01", "end": "2026-10-31"}, lambda body: body["totals"]["interactions"]),
}


def _traffic(world, *, day: date, count: int) -> None:
    """`count` interactions by as many members, each clicked and bought, in both groups."""
    for index in range(count):
        for bot in world["bots"]:
            member = MemberFactory(tenant=world["tenant"], group=bot.group)
            interaction = _interaction(world, bot=bot, member=member, at=_at(day + timedelta(days=index % 5), 9))
            click = _click(world, interaction=interaction, at=_at(day + timedelta(days=index % 5), 10))
            _conversion(world, click=click, amount=100 + index, at=_at(day + timedelta(days=index % 5), 11))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_tenants_key_sees_none_of_these_insights(endpoint, world, other_tenant, api_client_for):
    _traffic(world, day=date(2026, 10, 6), count=2)
    kpi_aggregate_tenant(tenant=world["tenant"])
    params, figure = ENDPOINTS[endpoint]
    url = f"{BASE}/{endpoint}/"
    intruder = api_client_for(other_tenant)

    seen = intruder.get(url, params)

    assert seen.status_code == 200
    assert figure(seen.json()) == 0
    assert str(world["bots"][0].group_id) not in seen.content.decode()
    assert intruder.get(url, {**params, "bot": str(world["bots"][0].pk)}).status_code == 400
    assert intruder.get(url, {**params, "group": str(world["bots"][0].group_id)}).status_code == 400
    assert figure(api_client_for(world["tenant"]).get(url, params).json()) > 0


@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [("active-members", {}, "end"), ("active-members", {"end": "31/10/2026"}, "end"),
     ("retention", {"end": "2026-10-31"}, "start"), ("retention", {"start": "2026-10-31", "end": "2026-10-01"}, "end"),
     ("retention", {"start": "2026-10-01", "end": "2026-10-31", "weeks": "0"}, "weeks"),
     ("funnel", {"start": "2024-01-01", "end": "2026-10-31"}, "end"),
     ("funnel", {"start": "2026-10-01", "end": "2026-10-31", "window_days": "a week"}, "window_days"),
     ("intents", {"start": "2026-10-01", "end": "2026-10-31", "limit": "1000"}, "limit"),
     ("sentiment", {"start": "2026-10-01", "end": "2026-10-31", "granularity": "hour"}, "granularity"),
     ("economics", {"start": "2026-10-01", "end": "2026-10-31", "bot": "not-a-bot"}, "bot"),
     ("economics", {"start": "2026-10-01", "end": "2026-10-31", "group": "9"}, "group")],
)  # fmt: skip
def test_bad_insight_requests_are_400_naming_the_field(api, endpoint, params, field):
    response = api.get(f"{BASE}/{endpoint}/", params)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]


# Beyond the key lookup and the bot lookup: the selector's aggregates (the funnel's clicks and its rollups).
SELECTOR_QUERIES = {"active-members": 1, "retention": 1, "funnel": 2, "intents": 2, "sentiment": 1, "economics": 4}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_insights_answer_in_a_fixed_number_of_queries_whatever_the_data(endpoint, world, api,
                                                                        django_assert_num_queries):  # fmt: skip
    params, figure = ENDPOINTS[endpoint]
    params = {**params, "bot": str(world["bots"][0].pk)}
    url = f"{BASE}/{endpoint}/"
    figures = []
    for count in (1, 6):
        _traffic(world, day=date(2026, 10, 6), count=count)
        kpi_aggregate_tenant(tenant=world["tenant"], full=True)
        api.get(url, params)  # the key's first use is recorded once
        with django_assert_num_queries(2 + SELECTOR_QUERIES[endpoint]):
            response = api.get(url, params)
        figures.append(figure(response.json()))
    assert figures[0] < figures[1]  # the second round did read more data


def test_the_openapi_schema_names_each_insight_response(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    responses = {
        path: schema["paths"][f"/api/v1/insights/{path}/"]["get"]["responses"]["200"]["content"]["application/json"]
        for path in ENDPOINTS
    }
    assert {path: body["schema"]["$ref"].rsplit("/", 1)[-1] for path, body in responses.items()} == {
        "active-members": "ActiveMembersInsight", "retention": "RetentionInsight", "funnel": "FunnelInsight",
        "intents": "TopIntentsInsight", "sentiment": "SentimentTrendInsight", "economics": "CommunityEconomicsInsight",
    }  # fmt: skip
