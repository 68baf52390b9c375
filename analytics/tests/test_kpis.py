"""KPI rollups and the KPI API: figures equal a direct computation from raw rows, however the job runs."""

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import services as analytics_services
from analytics.histogram import histogram_of, histogram_percentile
from analytics.insights import community_economics, conversion_funnel
from analytics.models import ActiveMembers, AggregationWatermark, DailyRollup, IntentRevenue, IntentRollup, MemberYear
from analytics.periods import period_start
from analytics.selectors import KpiScope, distinct_active_members_in_ranges, kpi_report
from analytics.services import day_spans, kpi_aggregate_tenant, kpi_finalize_yesterday
from bots.models import Interaction
from bots.tests.factories import BotFactory, InteractionFactory
from groups.models import Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.models import Click, Conversion
from monetization.tests.factories import ClickFactory, ConversionFactory, MonetizationSourceFactory
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 15, 18, 0, tzinfo=UTC)


def _at(day: date, hour: int, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=zone)


@pytest.fixture
def world(tenant):
    """A Chicago tenant with two bots in two groups, their members, and a source."""
    tenant.time_zone = CHICAGO
    tenant.save()
    bots = [BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant)) for _ in range(2)]
    members = {bot.pk: [MemberFactory(tenant=tenant, group=bot.group) for _ in range(3)] for bot in bots}
    source = MonetizationSourceFactory(tenant=tenant)
    return {"tenant": tenant, "bots": bots, "members": members, "source": source}


def _message(world, *, bot, member, at):
    return MessageFactory(tenant=world["tenant"], group=bot.group, bot=bot, member=member, sent_at=at)


def _interaction(world, *, bot, member, at, handled=True, sent=True, response_ms=200, sentiment=0.5):
    message = _message(world, bot=bot, member=member, at=at)
    return InteractionFactory(
        tenant=world["tenant"], bot=bot, group=bot.group, member=member, message=message, occurred_at=at,
        handled=handled, reply_status="sent" if sent else "failed", response_time_ms=response_ms if sent else None,
        sentiment=sentiment,
    )  # fmt: skip


def test_figures_of_a_day_match_what_happened(world, api):
    bot, other_bot = world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    day = date(2026, 11, 10)
    _message(world, bot=bot, member=ana, at=_at(day, 9))
    first = _interaction(world, bot=bot, member=ana, at=_at(day, 10), response_ms=150, sentiment=0.8)
    _interaction(world, bot=bot, member=bo, at=_at(day, 11), handled=False, sent=False, sentiment=-0.4)
    _interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(day, 12), response_ms=900)
    ClickFactory(tenant=world["tenant"], interaction=first, clicked_at=_at(day, 10))
    ClickFactory(tenant=world["tenant"], interaction=first, clicked_at=_at(day, 10), is_bot=True)
    for outcome, amount, currency in [("purchase", 5000, "USD"), ("refund", -1000, "USD"), ("signup", 0, "USD"),
                                      ("donation", 700, "EUR")]:  # fmt: skip
        ConversionFactory(tenant=world["tenant"], source=world["source"], interaction=first, outcome=outcome,
                          amount=amount, currency=currency, occurred_at=_at(day, 13))  # fmt: skip
    ConversionFactory(tenant=world["tenant"], source=world["source"], amount=300, occurred_at=_at(day, 14))

    kpi_aggregate_tenant(tenant=world["tenant"])
    totals = api.get("/api/v1/kpis/", {"start": "2026-11-10", "end": "2026-11-10"}).json()["totals"]

    assert totals["messages"] == 4
    assert totals["active_members"] == 3
    assert (totals["interactions"], totals["unhandled"], totals["replies"]) == (3, 1, 2)
    assert (totals["clicks"], totals["conversions"], totals["purchases"]) == (1, 4, 2)
    assert totals["revenue"] == {"EUR": 700, "USD": 4300}
    assert totals["conversion_rate"] == round(2 / 3, 4)
    assert totals["sentiment_avg"] == round((0.8 - 0.4 + 0.5) / 3, 4)
    assert totals["response_time_p50_ms"] is not None
    assert totals["response_time_p50_ms"] <= totals["response_time_p95_ms"]


def test_intent_rollups_and_revenue_of_a_day_match_what_happened(world):
    """On PostgreSQL the range statement writes them, elsewhere the ORM does: both must give these rows."""
    bot, other_bot = world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    day = date(2026, 11, 10)
    deals = _interaction(world, bot=bot, member=ana, at=_at(day, 10), sentiment=0.8)
    Interaction.objects.filter(pk=deals.pk).update(intent="deals")
    unknown = _interaction(world, bot=bot, member=bo, at=_at(day, 11), handled=False, sentiment=-0.4)
    Interaction.objects.filter(pk=unknown.pk).update(intent="")
    late = _interaction(world, bot=bot, member=ana, at=_at(day, 23), sentiment=0.2)  # 05:30 UTC on the 11th
    Interaction.objects.filter(pk=late.pk).update(intent="deals")
    elsewhere = _interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(day, 12))
    Interaction.objects.filter(pk=elsewhere.pk).update(intent="deals")
    for outcome, amount, currency in [("purchase", 5000, "USD"), ("refund", -1000, "USD"), ("donation", 700, "EUR")]:
        ConversionFactory(tenant=world["tenant"], source=world["source"], interaction=deals, outcome=outcome,
                          amount=amount, currency=currency, occurred_at=_at(day, 13))  # fmt: skip
    ConversionFactory(tenant=world["tenant"], source=world["source"], outcome="donation", amount=300, currency="USD",
                      occurred_at=_at(day, 14))  # fmt: skip

    kpi_aggregate_tenant(tenant=world["tenant"], full=True)

    rollups = IntentRollup.objects.filter(tenant=world["tenant"], day=day)
    assert sorted(rollups.values_list("bot_id", "intent", "interactions", "unhandled")) == sorted(
        [(bot.pk, "deals", 2, 0), (bot.pk, "", 1, 1), (other_bot.pk, "deals", 1, 0)]
    )
    assert rollups.get(bot=bot, intent="deals").sentiment_sum == pytest.approx(1.0)
    revenue = IntentRevenue.objects.filter(tenant=world["tenant"], day=day)
    rows = revenue.values_list("bot_id", "group_id", "intent", "currency", "purchases", "net")
    assert sorted(rows, key=str) == sorted(
        [(bot.pk, bot.group_id, "deals", "USD", 1, 4000), (bot.pk, bot.group_id, "deals", "EUR", 0, 700),
         (None, None, None, "USD", 0, 300)], key=str,
    )  # fmt: skip


def test_days_are_cut_in_the_tenants_time_zone(world, api):
    bot = world["bots"][0]
    # 03:30 UTC on the 11th is 21:30 on the 10th in Chicago.
    _message(world, bot=bot, member=world["members"][bot.pk][0], at=datetime(2026, 11, 11, 3, 30, tzinfo=UTC))

    kpi_aggregate_tenant(tenant=world["tenant"])
    series = api.get("/api/v1/kpis/", {"start": "2026-11-10", "end": "2026-11-11"}).json()["series"]

    assert [(entry["period"], entry["messages"]) for entry in series] == [("2026-11-10", 1), ("2026-11-11", 0)]


def test_running_twice_or_after_a_crash_gives_the_same_figures(world, monkeypatch, settings):
    settings.KPI_REBUILD_SPAN_DAYS = 2  # October 30-31 is one span, in its own transaction; November's are others
    bot = world["bots"][0]
    for offset in range(4):  # two days in October, two in November
        day = date(2026, 10, 30) + timedelta(days=offset)
        _interaction(world, bot=bot, member=world["members"][bot.pk][offset % 3], at=_at(day, 9))

    kpi_aggregate_tenant(tenant=world["tenant"], full=True)
    clean = sorted(DailyRollup.objects.values_list("day", "messages", "interactions", "replies"))
    kpi_aggregate_tenant(tenant=world["tenant"], full=True)
    assert sorted(DailyRollup.objects.values_list("day", "messages", "interactions", "replies")) == clean

    real_rebuild = analytics_services.kpi_days_rebuild
    calls = {"n": 0}

    def crash_in_november(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_rebuild(**kwargs)

    monkeypatch.setattr(analytics_services, "kpi_days_rebuild", crash_in_november)
    with pytest.raises(RuntimeError):
        kpi_aggregate_tenant(tenant=world["tenant"], full=True)
    assert {day.month for day in DailyRollup.objects.values_list("day", flat=True)} == {10}  # October was done
    monkeypatch.setattr(analytics_services, "kpi_days_rebuild", real_rebuild)
    kpi_aggregate_tenant(tenant=world["tenant"])  # the watermark did not move: the next run finishes the job

    assert sorted(DailyRollup.objects.values_list("day", "messages", "interactions", "replies")) == clean


def test_a_day_rebuilt_without_a_members_messages_clears_that_day_from_their_year(world):
    tenant, bot = world["tenant"], world["bots"][0]
    member = world["members"][bot.pk][0]
    first_day, second_day = date(2026, 3, 1), date(2026, 3, 9)
    first = _message(world, bot=bot, member=member, at=_at(first_day, 9))
    second = _message(world, bot=bot, member=member, at=_at(second_day, 9))
    kpi_aggregate_tenant(tenant=tenant)
    scope = KpiScope(tenant=tenant)
    assert distinct_active_members_in_ranges(
        scope, [(first_day, first_day), (second_day, second_day), (date(2026, 3, 2), date(2026, 3, 8))], group_id=None
    ) == [1, 1, 0]

    second.delete()
    analytics_services.kpi_day_rebuild(tenant=tenant, day=second_day)
    assert distinct_active_members_in_ranges(
        scope, [(first_day, first_day), (second_day, second_day), (first_day, second_day)], group_id=None
    ) == [1, 0, 1]

    first.delete()
    analytics_services.kpi_day_rebuild(tenant=tenant, day=first_day)
    assert not MemberYear.objects.filter(tenant=tenant).exists()


def test_rebuilding_an_unchanged_day_writes_no_member_year(world):
    """The job rebuilds today every few minutes: unchanged member-years must not become dead rows each time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("row write counters: PostgreSQL's statistics views")
    tenant, bot = world["tenant"], world["bots"][0]
    day = date(2026, 3, 1)
    for member in world["members"][bot.pk]:
        _message(world, bot=bot, member=member, at=_at(day, 9))
    kpi_aggregate_tenant(tenant=tenant)

    def writes():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables WHERE relname = %s",
                [MemberYear._meta.db_table],
            )
            return cursor.fetchone()[0]

    before = writes()
    analytics_services.kpi_day_rebuild(tenant=tenant, day=day)
    assert writes() == before
    assert MemberYear.objects.filter(tenant=tenant).count() == 3


def test_ranges_of_one_year_ignore_the_other_years_read_with_them(world):
    tenant, bot = world["tenant"], world["bots"][0]
    member = world["members"][bot.pk][0]
    _message(world, bot=bot, member=member, at=_at(date(2025, 3, 5), 9))
    kpi_aggregate_tenant(tenant=tenant)

    counts = distinct_active_members_in_ranges(
        KpiScope(tenant=tenant),
        [
            (date(2026, 3, 5), date(2026, 3, 5)),  # the same day of the year as the member's, a year on
            (date(2025, 12, 1), date(2026, 1, 10)),  # across the new year: both years' rows are read
            (date(2025, 3, 5), date(2025, 3, 5)),
        ],
        group_id=None,
    )

    assert counts == [0, 0, 1]


def test_stored_weeks_and_months_count_a_member_once_across_the_new_year(world):
    tenant, (bot, other_bot) = world["tenant"], world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    _message(world, bot=bot, member=ana, at=_at(date(2025, 12, 30), 9))
    new_years = _message(world, bot=bot, member=ana, at=_at(date(2026, 1, 2), 9))
    _message(world, bot=bot, member=bo, at=_at(date(2026, 1, 3), 9))
    _message(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(date(2025, 12, 31), 9))
    kpi_aggregate_tenant(tenant=tenant)

    def stored() -> dict[tuple[str, date, str], int]:
        rows = ActiveMembers.objects.filter(tenant=tenant).exclude(granularity="day")
        group_names = {bot.group_id: "group", other_bot.group_id: "other group"}
        return {
            (granularity, period, group_names[group_id]): members
            for granularity, period, group_id, members in rows.values_list(
                "granularity", "period", "group_id", "members"
            )
        }

    week = date(2025, 12, 29)  # Monday to Sunday 2026-01-04
    assert stored() == {
        ("week", week, "group"): 2, ("week", week, "other group"): 1,
        ("month", date(2025, 12, 1), "group"): 1, ("month", date(2025, 12, 1), "other group"): 1,
        ("month", date(2026, 1, 1), "group"): 2,
    }  # fmt: skip

    new_years.delete()
    analytics_services.kpi_day_rebuild(tenant=tenant, day=date(2026, 1, 2))
    assert stored()[("week", week, "group")] == 2  # Ana was still active on the 30th
    assert stored()[("month", date(2026, 1, 1), "group")] == 1


def test_day_spans_are_runs_of_consecutive_days_at_most_max_days_long():
    first = date(2026, 1, 30)
    days = [first + timedelta(days=offset) for offset in (*range(5), 7, 8)]  # a gap after Feb 3

    jan30, jan31, feb1, feb2, feb3, feb6, feb7 = days

    assert list(day_spans(days, max_days=400)) == [(jan30, feb3), (feb6, feb7)]
    assert list(day_spans(reversed(days), max_days=2)) == [(jan30, jan31), (feb1, feb2), (feb3, feb3), (feb6, feb7)]
    assert list(day_spans([], max_days=2)) == []


def test_a_late_postback_reopens_its_day(world, api):
    bot = world["bots"][0]
    interaction = _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(date(2026, 11, 3), 9))
    kpi_aggregate_tenant(tenant=world["tenant"])
    AggregationWatermark.objects.update(read_through=timezone.now() - timedelta(hours=1))

    ConversionFactory(tenant=world["tenant"], source=world["source"], interaction=interaction, amount=2500,
                      occurred_at=_at(date(2026, 11, 3), 20))  # fmt: skip
    report = kpi_aggregate_tenant(tenant=world["tenant"])

    assert report.days == 1
    totals = api.get("/api/v1/kpis/", {"start": "2026-11-03", "end": "2026-11-03"}).json()["totals"]
    assert totals["revenue"] == {"USD": 2500}


def test_the_nightly_pass_settles_yesterday_whatever_the_watermark_says(world):
    bot = world["bots"][0]
    now = timezone.now()
    yesterday = now.astimezone(CHICAGO).date() - timedelta(days=1)
    _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(yesterday, 12))
    kpi_aggregate_tenant(tenant=world["tenant"])
    DailyRollup.objects.filter(day=yesterday).update(interactions=99)  # drifted, and no new rows to reveal it

    kpi_finalize_yesterday(now=now)

    assert DailyRollup.objects.get(day=yesterday).interactions == 1


def test_a_time_zone_change_rebuilds_the_tenant(world):
    bot = world["bots"][0]
    _message(world, bot=bot, member=world["members"][bot.pk][0], at=datetime(2026, 11, 11, 3, 30, tzinfo=UTC))
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert list(DailyRollup.objects.values_list("day", flat=True)) == [date(2026, 11, 10)]

    world["tenant"].time_zone = ZoneInfo("Europe/Berlin")
    world["tenant"].save()
    report = kpi_aggregate_tenant(tenant=world["tenant"])

    assert report.full
    assert list(DailyRollup.objects.values_list("day", flat=True)) == [date(2026, 11, 11)]


def test_series_fill_gaps_and_weeks_start_on_monday_with_the_previous_period(world, api):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    _interaction(world, bot=bot, member=member, at=_at(date(2026, 11, 4), 9))  # a Wednesday
    _interaction(world, bot=bot, member=member, at=_at(date(2026, 10, 28), 9))  # the week before
    kpi_aggregate_tenant(tenant=world["tenant"])

    report = api.get("/api/v1/kpis/", {"start": "2026-11-02", "end": "2026-11-15", "granularity": "week"}).json()

    assert [(entry["period"], entry["interactions"]) for entry in report["series"]] == [
        ("2026-11-02", 1),
        ("2026-11-09", 0),
    ]
    assert report["previous"]["start"] == "2026-10-19"
    assert report["previous"]["interactions"] == 1
    assert report["previous"]["active_members"] == 1


def test_filters_by_bot_and_group(world, api):
    bot, other_bot = world["bots"]
    _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(date(2026, 11, 5), 9))
    _interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], at=_at(date(2026, 11, 5), 9))
    kpi_aggregate_tenant(tenant=world["tenant"])
    params = {"start": "2026-11-05", "end": "2026-11-05"}

    by_bot = api.get("/api/v1/kpis/", {**params, "bot": str(bot.pk)}).json()["totals"]
    by_group = api.get("/api/v1/kpis/", {**params, "group": str(other_bot.group_id)}).json()["totals"]

    assert (by_bot["interactions"], by_bot["active_members"]) == (1, 1)
    assert (by_group["interactions"], by_group["active_members"]) == (1, 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start": "2026-11-05"}, "end"), ({"start": "nope", "end": "2026-11-05"}, "start"),
     ({"start": "2026-11-05", "end": "2026-11-01"}, "end"), ({"start": "2024-01-01", "end": "2026-11-05"}, "end"),
     ({"start": "2026-11-01", "end": "2026-11-05", "granularity": "hour"}, "granularity"),
     ({"start": "2026-11-01", "end": "2026-11-05", "bot": "not-a-bot"}, "bot")],
)  # fmt: skip
def test_bad_kpi_requests_are_400_naming_the_field(api, params, field):
    response = api.get("/api/v1/kpis/", params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_another_tenants_key_sees_none_of_these_figures(world, other_tenant, api_client_for):
    bot = world["bots"][0]
    _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(date(2026, 11, 5), 9))
    kpi_aggregate_tenant(tenant=world["tenant"])
    intruder = api_client_for(other_tenant)
    params = {"start": "2026-11-01", "end": "2026-11-30"}

    assert intruder.get("/api/v1/kpis/", params).json()["totals"]["interactions"] == 0
    assert intruder.get("/api/v1/kpis/", {**params, "bot": str(bot.pk)}).status_code == 400
    assert api_client_for(world["tenant"]).get("/api/v1/kpis/", params).json()["totals"]["interactions"] == 1


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_a_years_range_answers_in_a_constant_number_of_queries(world, api, granularity, django_assert_max_num_queries):
    bot = world["bots"][0]
    for offset in range(0, 360, 9):
        _interaction(world, bot=bot, member=world["members"][bot.pk][offset % 3], at=_at(date(2025, 11, 20) +
                     timedelta(days=offset), 9))  # fmt: skip
    kpi_aggregate_tenant(tenant=world["tenant"])
    api.get("/api/v1/kpis/", {"start": "2025-11-20", "end": "2026-11-14"})
    # key lookup; rollups of the range and of the previous range; active members overall and previous; the stored
    # per-period counts; the weeks or months the range's ends cut through, counted live (at most two)
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/kpis/", {"start": "2025-11-20", "end": "2026-11-14", "granularity": granularity})
    assert response.json()["totals"]["interactions"] == 40


def test_aggregate_kpis_command(world):
    bot = world["bots"][0]
    _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(date(2026, 11, 5), 9))
    out = StringIO()

    call_command("aggregate_kpis", "--tenant", world["tenant"].slug, "--full", stdout=out, stderr=StringIO())

    report = json.loads(out.getvalue())
    assert report["tenant"] == world["tenant"].slug
    assert report["full"] is True
    assert DailyRollup.objects.filter(interactions=1).exists()
    with pytest.raises(CommandError):
        call_command("aggregate_kpis", "--tenant", "nobody", stdout=StringIO())


# --- The property: rollups equal a direct computation from raw rows, for every granularity and filter ---------------

events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),  # day offset
        st.integers(min_value=0, max_value=23),  # hour (UTC)
        st.integers(min_value=0, max_value=1),  # which bot
        st.integers(min_value=0, max_value=2),  # which member
        st.sampled_from(["chatter", "handled", "unhandled", "failed", "clicked", "bought", "refunded"]),
        st.integers(min_value=0, max_value=20_000),  # response time ms
    ),
    max_size=25,
)


def _direct(tenant, *, start, end, bot=None, group=None):
    """The figures computed straight from raw rows, as an auditor would."""
    zone = tenant.time_zone
    lower = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    upper = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    messages = Message.objects.filter(tenant=tenant, sent_at__gte=lower, sent_at__lt=upper, sender_type="user")
    interactions = Interaction.objects.filter(tenant=tenant, occurred_at__gte=lower, occurred_at__lt=upper)
    clicks = Click.objects.filter(tenant=tenant, clicked_at__gte=lower, clicked_at__lt=upper, is_bot=False)
    conversions = Conversion.objects.filter(tenant=tenant, occurred_at__gte=lower, occurred_at__lt=upper)
    if bot is not None:
        messages, interactions = messages.filter(bot=bot), interactions.filter(bot=bot)
        clicks, conversions = clicks.filter(interaction__bot=bot), conversions.filter(interaction__bot=bot)
    if group is not None:
        messages, interactions = messages.filter(group=group), interactions.filter(group=group)
        clicks, conversions = clicks.filter(interaction__group=group), conversions.filter(interaction__group=group)
    times = list(interactions.filter(reply_status="sent").values_list("response_time_ms", flat=True))
    revenue: dict[str, int] = {}
    for currency, amount in conversions.values_list("currency", "amount"):
        revenue[currency] = revenue.get(currency, 0) + amount
    counted = interactions.count()
    purchases = conversions.filter(outcome="purchase").count()
    return {
        "messages": messages.count(),
        "active_members": messages.values("member").distinct().count(),
        "interactions": counted,
        "unhandled": interactions.filter(handled=False).count(),
        "replies": len(times),
        "clicks": clicks.count(),
        "conversions": conversions.exclude(outcome="refund").count(),
        "purchases": purchases,
        "revenue": dict(sorted(revenue.items())),
        "conversion_rate": round(purchases / counted, 4) if counted else 0,
        "response_time_p50_ms": histogram_percentile(histogram_of(times), 0.5),
        "response_time_p95_ms": histogram_percentile(histogram_of(times), 0.95),
    }


def _direct_engaged(tenant, *, start, end, bot=None, group=None):
    """Members with an interaction in the range, straight from the interactions."""
    zone = tenant.time_zone
    lower = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    upper = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    interactions = Interaction.objects.filter(tenant=tenant, occurred_at__gte=lower, occurred_at__lt=upper)
    if bot is not None:
        interactions = interactions.filter(bot=bot)
    if group is not None:
        interactions = interactions.filter(group=group)
    return interactions.exclude(member=None).values("member").distinct().count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    traffic=events,
    granularity=st.sampled_from(["day", "week", "month"]),
    scope=st.sampled_from(["all", "bot", "group"]),
    first_day=st.sampled_from([date(2026, 9, 1), date(2025, 12, 10)]),  # the second crosses into a new year
)
def test_rollups_equal_a_direct_computation_from_raw_rows(traffic, granularity, scope, first_day):
    tenant = TenantFactory(time_zone=CHICAGO)
    bots = [BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant)) for _ in range(2)]
    members = [[MemberFactory(tenant=tenant, group=bot.group) for _ in range(3)] for bot in bots]
    source = MonetizationSourceFactory(tenant=tenant)
    base = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    for index, (offset, hour, which, who, kind, response_ms) in enumerate(traffic):
        at = base + timedelta(days=offset, hours=hour)
        bot, member = bots[which], members[which][who]
        message = MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, sent_at=at)
        if kind == "chatter":
            # The same day of the year a year before: active-member counts must not read it for this year's day.
            MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, sent_at=at - timedelta(days=365))
            continue
        interaction = InteractionFactory(
            tenant=tenant, bot=bot, group=bot.group, member=member, message=message, occurred_at=at,
            handled=kind != "unhandled", reply_status="failed" if kind == "failed" else "sent",
            response_time_ms=None if kind == "failed" else response_ms,
        )  # fmt: skip
        click = None
        if kind in ("clicked", "bought", "refunded"):
            click = ClickFactory(tenant=tenant, interaction=interaction, clicked_at=at + timedelta(minutes=5))
        if kind in ("bought", "refunded"):
            amount = -800 if kind == "refunded" else 1200 + index
            outcome = "refund" if kind == "refunded" else "purchase"
            # A purchase is the click's, some of them after the source's 30 days (the funnel leaves those out).
            ConversionFactory(tenant=tenant, source=source, interaction=interaction, outcome=outcome, amount=amount,
                              attributed_click=click if kind == "bought" else None,
                              occurred_at=at + timedelta(hours=1 + 24 * (response_ms % 40)))  # fmt: skip
    kpi_aggregate_tenant(tenant=tenant)

    start, end = first_day - timedelta(days=1), first_day + timedelta(days=49)
    bot = bots[0] if scope == "bot" else None
    group = bots[1].group if scope == "group" else None
    scope_of = KpiScope(tenant=tenant, bot_id=bot.pk if bot else None, group_id=group.pk if group else None)
    report = kpi_report(
        scope=scope_of, start=start, end=end, granularity=granularity, group_of_bot=bot.group_id if bot else None
    )

    expected = _direct(tenant, start=start, end=end, bot=bot, group=group)
    assert {name: report["totals"][name] for name in expected} == expected
    for engaged_start, engaged_end in ((start, end), (first_day, first_day + timedelta(days=20))):
        economics = community_economics(scope=scope_of, start=engaged_start, end=engaged_end)
        direct_engaged = _direct_engaged(tenant, start=engaged_start, end=engaged_end, bot=bot, group=group)
        assert economics["totals"]["engaged_members"] == direct_engaged
    # The funnel's rollups per day of the clicks count what the conversions attributed to them do.
    for funnel_start, funnel_end in ((start, end), (first_day + timedelta(days=3), first_day + timedelta(days=9))):
        kept = conversion_funnel(scope=scope_of, start=funnel_start, end=funnel_end)
        counted = conversion_funnel(scope=scope_of, start=funnel_start, end=funnel_end, window_days=30)
        assert {**kept, "window_days": 30} == counted
    for entry in report["series"]:
        period = date.fromisoformat(entry["period"])
        period_end = min(end, _period_end(period, granularity))
        direct = _direct(tenant, start=max(start, period), end=period_end, bot=bot, group=group)
        assert {name: entry[name] for name in direct} == direct, entry["period"]


def _period_end(period: date, granularity: str) -> date:
    if granularity == "day":
        return period
    if granularity == "week":
        return period + timedelta(days=6)
    following = (period.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert period_start(following, "month") == following
    return following - timedelta(days=1)


def test_a_deleted_bots_history_can_still_be_filtered_on(world, api):
    bot = world["bots"][0]
    _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(date(2026, 11, 5), 9))
    kpi_aggregate_tenant(tenant=world["tenant"])
    assert api.delete(f"/api/v1/bots/{bot.pk}/").status_code == 204

    totals = api.get("/api/v1/kpis/", {"start": "2026-11-05", "end": "2026-11-05", "bot": str(bot.pk)}).json()

    assert totals["totals"]["interactions"] == 1


@pytest.mark.django_db(transaction=True)
def test_overlapping_runs_of_the_same_days_leave_one_set_of_rollups(world):
    """Beat, the nightly pass, a time-zone change and the command can rebuild the same days at once."""
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL (SQLite serialises every write)")
    import threading

    for offset in range(10):
        for bot in world["bots"]:
            member = world["members"][bot.pk][offset % 3]
            _interaction(world, bot=bot, member=member, at=_at(date(2026, 11, 1 + offset), 9))
    tenant = world["tenant"]
    analytics_services.kpi_days_rebuild(tenant=tenant, first=date(2026, 11, 1), last=date(2026, 11, 10))
    once = sorted(DailyRollup.objects.values_list("day", "bot_id", "messages", "interactions"))
    start, errors = threading.Barrier(4), []

    def rebuild() -> None:
        try:
            start.wait()
            analytics_services.kpi_days_rebuild(tenant=tenant, first=date(2026, 11, 1), last=date(2026, 11, 10))
        except Exception as error:  # the assertion below reports it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=rebuild) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(DailyRollup.objects.values_list("day", "bot_id", "messages", "interactions")) == once


def test_spans_rebuilt_in_the_callers_transaction_leave_its_session_settings_as_they_were(world):
    """PostgreSQL's span cuts days in the tenant's zone and steers the planner for its own statements only."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("session settings of the PostgreSQL rebuild")
    names = ("TimeZone", "enable_sort", "enable_hashjoin", "enable_mergejoin", "parallel_tuple_cost")

    def session_settings() -> tuple[str, ...]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(['current_setting(%s)'] * len(names))}", names)
            return tuple(cursor.fetchone())

    bot = world["bots"][0]
    for day in (date(2026, 11, 5), date(2026, 11, 6)):
        _interaction(world, bot=bot, member=world["members"][bot.pk][0], at=_at(day, 23))  # 05:30 UTC the next day
    before = session_settings()
    assert before[0] == "UTC"

    # The test's own transaction is the caller's: both spans run in it, the second after the first's tables are gone.
    for day in (date(2026, 11, 5), date(2026, 11, 6)):
        analytics_services.kpi_days_rebuild(tenant=world["tenant"], first=day, last=day)

    assert session_settings() == before
    assert sorted(DailyRollup.objects.values_list("day", "messages", "interactions")) == [
        (date(2026, 11, 5), 1, 1), (date(2026, 11, 6), 1, 1),
    ]  # fmt: skip
