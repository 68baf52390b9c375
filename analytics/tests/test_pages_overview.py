"""The overview page (/t/<slug>/): KPI tiles against the previous period, charts, top intents, bot health and empty
states, for a date range in the tenant's time zone; every figure from the rollups, in a fixed number of queries."""

import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.forms import auto_granularity, preset_range
from analytics.services import kpi_aggregate_tenant
from bots.tests.factories import BotFactory, InteractionFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.tests.factories import ClickFactory, ConversionFactory, MonetizationSourceFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
# The range the tests look at and the week before it (the previous period of a 7-day range).
WEEK_START, WEEK_END = date(2026, 11, 9), date(2026, 11, 15)
WEEK = {"since": WEEK_START.isoformat(), "until": WEEK_END.isoformat()}


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=CHICAGO)


@pytest.fixture
def world(tenant):
    return build_world(tenant)


def build_world(tenant):
    """A Chicago tenant with two bots in their groups, three members each, and a source."""
    tenant.time_zone = CHICAGO
    tenant.save()
    bots = [BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, name=name)) for name in ("Anglers", "Boats")]
    members = {bot.pk: [MemberFactory(tenant=tenant, group=bot.group) for _ in range(3)] for bot in bots}
    source = MonetizationSourceFactory(tenant=tenant, attribution_window_days=30)
    return {"tenant": tenant, "bots": bots, "members": members, "source": source}


def message(world, *, bot, member, when, text=None):
    extra = {"text": text} if text is not None else {}
    return MessageFactory(tenant=world["tenant"], group=bot.group, bot=bot, member=member, sent_at=when, **extra)


def interaction(world, *, bot, member, when, intent="help", handled=True, text=None, sentiment=0.0):
    found = message(world, bot=bot, member=member, when=when, text=text)
    return InteractionFactory(
        tenant=world["tenant"], bot=bot, group=bot.group, member=member, message=found, occurred_at=when,
        message_text=found.text, intent=intent, handled=handled, sentiment=sentiment,
    )  # fmt: skip


def purchase(world, *, when, amount=2500, currency="USD", interaction=None, click=None, outcome="purchase"):
    return ConversionFactory(
        tenant=world["tenant"], source=world["source"], outcome=outcome, amount=amount, currency=currency,
        occurred_at=when, interaction=interaction or (click.interaction if click else None), attributed_click=click,
    )  # fmt: skip


def busy_days(world, *, days: int, end: date) -> None:
    """Some of everything on each of `days` days up to `end`: messages, interactions, a click and a purchase."""
    for offset in range(days):
        day = end - timedelta(days=offset)
        for bot in world["bots"]:
            member = world["members"][bot.pk][offset % 3]
            found = interaction(world, bot=bot, member=member, when=at(day), intent=("help", "price")[offset % 2])
            click = ClickFactory(tenant=world["tenant"], interaction=found, clicked_at=at(day, 11))
            purchase(world, when=at(day, 12), click=click)


def tiles_of(response) -> dict[str, object]:
    return {tile.key: tile for tile in response.context["tiles"]}


def chart_data(response, key: str) -> dict:
    found = re.search(
        rf'<script id="chart-{key}-data" type="application/json">(.*?)</script>', response.content.decode()
    )
    assert found, f"no json_script for chart {key}"
    return json.loads(found.group(1))


def home(tenant) -> str:
    return f"/t/{tenant.slug}/"


# --- Figures and their change --------------------------------------------------------------------------------------


def test_tiles_show_the_ranges_figures_and_the_change_against_the_week_before(world, owner_client):
    bot, other_bot = world["bots"]
    ana, bo, _ = world["members"][bot.pk]
    for day in (WEEK_START, WEEK_START + timedelta(days=2)):
        interaction(world, bot=bot, member=ana, when=at(day))
        interaction(world, bot=bot, member=bo, when=at(day), handled=False)
    interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], when=at(WEEK_START - timedelta(days=3)))
    purchase(world, when=at(WEEK_END), amount=4200)
    purchase(world, when=at(WEEK_END), amount=900, currency="EUR")
    purchase(world, when=at(WEEK_START - timedelta(days=1)), amount=2100)
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(home(world["tenant"]), WEEK)

    assert response.status_code == 200
    tiles = tiles_of(response)
    assert (tiles["messages"].value, tiles["messages"].change, tiles["messages"].trend) == ("4", "up 300%", "better")
    assert tiles["active_members"].value == "2"
    assert tiles["interactions"].value == "4"
    # Half unhandled now, none before: a rate moves in points, and up is worse.
    assert (tiles["unhandled_rate"].value, tiles["unhandled_rate"].change) == ("50.0%", "up 50.0 points")
    assert tiles["unhandled_rate"].trend == "worse"
    assert (tiles["revenue_USD"].value, tiles["revenue_USD"].change) == ("42.00 USD", "up 100%")
    assert (tiles["revenue_EUR"].value, tiles["revenue_EUR"].change) == ("9.00 EUR", "up from none")
    assert (tiles["conversions"].value, tiles["conversions"].change) == ("2", "up 100%")
    page = response.content.decode()
    assert "Key figures, 9 Nov 2026 \N{EN DASH} 15 Nov 2026" in unescape(page)
    assert "2 Nov 2026 \N{EN DASH} 8 Nov 2026" in unescape(page)
    assert 'data-kpi="revenue_EUR"' in page


def test_a_figure_that_fell_says_down_and_a_slower_reply_is_worse(world, owner_client):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    for offset in range(4):
        interaction(world, bot=bot, member=member, when=at(WEEK_START - timedelta(days=1 + offset)))
    found = interaction(world, bot=bot, member=member, when=at(WEEK_START))
    found.response_time_ms = 5000
    found.save()
    kpi_aggregate_tenant(tenant=world["tenant"])

    tiles = tiles_of(owner_client.get(home(world["tenant"]), WEEK))

    assert (tiles["interactions"].change, tiles["interactions"].trend) == ("down 75%", "worse")
    assert tiles["response_time_p95_ms"].trend == "worse"
    assert tiles["response_time_p95_ms"].value.endswith(" s")


def test_a_change_against_an_all_but_empty_week_is_a_multiple_not_a_huge_percentage(world, owner_client):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    interaction(world, bot=bot, member=member, when=at(WEEK_START - timedelta(days=1)))
    for hour in range(12):
        interaction(world, bot=bot, member=member, when=at(WEEK_START, hour=hour))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(home(world["tenant"]), WEEK)

    tiles = tiles_of(response)
    # 12 against 1 is "up 1100%": exact, and no more telling than this.
    multiple = "up more than 10\N{MULTIPLICATION SIGN}"
    assert (tiles["interactions"].change, tiles["interactions"].trend) == (multiple, "better")
    assert f'{multiple}<span class="visually-hidden"> (better than before)</span>' in unescape(
        response.content.decode()
    )


def test_figures_come_from_the_rollups_and_say_how_fresh_they_are(world, owner_client):
    bot = world["bots"][0]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START))
    url = home(world["tenant"])

    before = owner_client.get(url, WEEK)
    assert tiles_of(before)["interactions"].value == "0"
    assert "Figures have not been calculated yet" in before.content.decode()

    kpi_aggregate_tenant(tenant=world["tenant"])
    interaction(world, bot=bot, member=world["members"][bot.pk][1], when=at(WEEK_START))  # after the run
    after = owner_client.get(url, WEEK)

    assert tiles_of(after)["interactions"].value == "1"
    as_of = after.context["figures_as_of"]
    local = timezone.localtime(as_of, CHICAGO)
    assert f'Figures as of <time datetime="{local.isoformat()}">{local:%-d %b %Y, %H:%M}</time>' in (
        after.content.decode()
    )


def test_owner_and_analyst_both_see_the_overview(world, client):
    for role in (Role.OWNER, Role.ADMIN, Role.ANALYST):
        client.force_login(MembershipFactory(tenant=world["tenant"], user=UserFactory(), role=role).user)
        response = client.get(home(world["tenant"]))
        assert response.status_code == 200, role
        assert response.context["tiles"]


def test_bot_and_group_filters_narrow_every_figure(world, owner_client):
    bot, other_bot = world["bots"]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START))
    for member in world["members"][other_bot.pk]:
        interaction(world, bot=other_bot, member=member, when=at(WEEK_END))
    kpi_aggregate_tenant(tenant=world["tenant"])
    url = home(world["tenant"])

    assert tiles_of(owner_client.get(url, WEEK))["interactions"].value == "4"
    assert tiles_of(owner_client.get(url, {**WEEK, "bot": str(bot.pk)}))["interactions"].value == "1"
    by_group = owner_client.get(url, {**WEEK, "group": str(other_bot.group_id)})
    assert tiles_of(by_group)["interactions"].value == "3"
    assert tiles_of(by_group)["active_members"].value == "3"
    assert chart_data(by_group, "interactions")["datasets"][0]["data"][-1] == 3


# --- The range control ------------------------------------------------------------------------------------------


def test_without_a_range_the_page_shows_the_last_30_days_of_the_tenants_today(world, owner_client, monkeypatch):
    monkeypatch.setattr("analytics.pages.tenant_today", lambda tenant: date(2026, 3, 10))

    response = owner_client.get(home(world["tenant"]))

    query = response.context["query"]
    assert (query.start, query.end, query.granularity) == (date(2026, 2, 9), date(2026, 3, 10), "day")
    form = response.context["range_form"]
    assert (form["range"].value(), form["since"].value(), form["until"].value()) == ("30d", "2026-02-09", "2026-03-10")


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("7d", date(2026, 3, 4), date(2026, 3, 10)),
        ("30d", date(2026, 2, 9), date(2026, 3, 10)),
        ("90d", date(2025, 12, 11), date(2026, 3, 10)),
        ("this_month", date(2026, 3, 1), date(2026, 3, 10)),
        ("last_month", date(2026, 2, 1), date(2026, 2, 28)),
        ("ytd", date(2026, 1, 1), date(2026, 3, 10)),
    ],
)
def test_presets_resolve_to_dates_from_the_tenants_today(preset, start, end, world, owner_client, monkeypatch):
    assert preset_range(preset, today=date(2026, 3, 10)) == (start, end)
    monkeypatch.setattr("analytics.pages.tenant_today", lambda tenant: date(2026, 3, 10))

    query = owner_client.get(home(world["tenant"]), {"range": preset}).context["query"]

    assert (query.start, query.end) == (start, end)


def test_the_tenants_today_is_its_local_date(world):
    from analytics.periods import tenant_today

    world["tenant"].time_zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: ahead of UTC's date most of the day
    expected = timezone.now().astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert tenant_today(world["tenant"]) == expected


def test_days_are_cut_in_the_tenants_time_zone(world, owner_client):
    bot = world["bots"][0]
    # 03:30 UTC on the 16th is 21:30 on the 15th in Chicago: inside the week.
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=datetime(2026, 11, 16, 3, 30, tzinfo=UTC))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(home(world["tenant"]), WEEK)

    assert tiles_of(response)["interactions"].value == "1"
    assert chart_data(response, "interactions")["datasets"][0]["data"] == [0, 0, 0, 0, 0, 0, 1]


def test_granularity_follows_the_range_length_unless_chosen(world, owner_client):
    first = date(2026, 1, 1)
    lengths = (92, 93, 366, 367)
    assert [auto_granularity(first, first + timedelta(days=n - 1)) for n in lengths] == ["day", "week", "week", "month"]
    url = home(world["tenant"])
    year = {"since": "2026-01-01", "until": "2026-12-31"}

    assert chart_data(owner_client.get(url, year), "messages")["granularity"] == "week"
    monthly = chart_data(owner_client.get(url, {**year, "granularity": "month"}), "messages")
    assert monthly["granularity"] == "month"
    assert monthly["periods"][:2] == ["2026-01-01", "2026-02-01"]
    assert len(monthly["labels"]) == 12


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"since": "2026-11-15", "until": "2026-11-09"}, "To", "On or after the From date."),
        (
            {"since": "2026-02-30", "until": "2026-03-02"},
            "From",
            "A date from 2000-01-01 to 2999-12-31, as YYYY-MM-DD.",
        ),
        ({"range": "custom", "until": "2026-03-02"}, "From", "Required, as YYYY-MM-DD."),
        ({"since": "2020-01-01", "until": "2026-03-02"}, "To", "A range is at most 800 days."),
        ({"range": "forever"}, "Date range", "Select a valid choice."),
        ({"granularity": "hour"}, "Chart periods", "Select a valid choice."),
        ({"bot": "not-a-bot"}, "Bot", "No such bot."),
        ({"group": "00000000-0000-0000-0000-000000000000"}, "Group", "No such group."),
    ],
)
def test_a_bad_range_or_filter_is_a_400_naming_the_field(world, owner_client, params, field, message):
    response = owner_client.get(home(world["tenant"]), params)

    assert response.status_code == 400
    page = unescape(response.content.decode())
    assert f"{field}: {message}" in page
    assert "tiles" not in response.context
    assert 'role="alert"' in page


def test_another_tenants_bot_is_no_such_bot(world, owner_client, other_tenant):
    theirs = BotFactory(tenant=other_tenant)

    response = owner_client.get(home(world["tenant"]), {"bot": str(theirs.pk)})

    assert response.status_code == 400
    assert "No such bot." in response.content.decode()


def test_the_form_keeps_the_chosen_filters_and_offers_the_tenants_bots_and_groups(world, owner_client, other_tenant):
    bot = world["bots"][0]
    BotFactory(tenant=other_tenant, name="Someone else's bot")

    response = owner_client.get(home(world["tenant"]), {**WEEK, "bot": str(bot.pk), "granularity": "week"})

    page = response.content.decode()
    assert f'<option value="{bot.pk}" selected>{bot.name}</option>' in page
    assert "Someone else&#x27;s bot" not in page
    assert '<input type="date" name="since" value="2026-11-09"' in page
    assert response.context["filter_params"] == {
        "range": "custom", **WEEK, "bot": str(bot.pk), "granularity": "week",
    }  # fmt: skip
    for name in ("Date range", "From", "To", "Bot", "Group", "Chart periods"):
        assert re.search(rf'<label for="id_\w+">{name}</label>', page), name


# --- Drill-down -------------------------------------------------------------------------------------------------


def test_every_tile_links_to_the_records_behind_it_with_the_same_filters(world, owner_client):
    bot = world["bots"][0]
    slug = world["tenant"].slug

    tiles = tiles_of(owner_client.get(home(world["tenant"]), {**WEEK, "bot": str(bot.pk)}))

    def parts(href: str) -> tuple[str, dict[str, list[str]]]:
        split = urlsplit(href)
        return split.path, parse_qs(split.query)

    same = {"since": ["2026-11-09"], "until": ["2026-11-15"], "bot": [str(bot.pk)]}
    assert parts(tiles["interactions"].href) == (f"/t/{slug}/interactions/", same)
    assert parts(tiles["unhandled_rate"].href) == (f"/t/{slug}/interactions/", {**same, "handled": ["false"]})
    assert parts(tiles["response_time_p95_ms"].href) == (f"/t/{slug}/interactions/", {**same, "reply_status": ["sent"]})
    assert parts(tiles["conversions"].href) == (
        f"/t/{slug}/money/conversions/",
        {"since": ["2026-11-09"], "until": ["2026-11-15"]},
    )
    assert parts(tiles["revenue_USD"].href)[0] == f"/t/{slug}/money/conversions/"
    assert tiles["clicks"].href == f"/t/{slug}/links/"
    assert tiles["messages"].href == f"/t/{slug}/groups/"


def test_with_a_group_chosen_member_figures_link_to_that_groups_members(world, owner_client):
    group = world["bots"][1].group

    tiles = tiles_of(owner_client.get(home(world["tenant"]), {**WEEK, "group": str(group.pk)}))

    assert tiles["active_members"].href == f"/t/{world['tenant'].slug}/groups/{group.pk}/?sort=-last_seen"


def test_top_intents_link_to_their_interactions(world, owner_client):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    for intent, times in (("price", 3), ("hours", 1), ("", 2)):
        for _ in range(times):
            interaction(world, bot=bot, member=member, when=at(WEEK_START), intent=intent, handled=bool(intent))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(home(world["tenant"]), WEEK)

    intents = response.context["intents"]
    assert [(row["intent"], row["interactions"]) for row in intents] == [("price", 3), ("", 2), ("hours", 1)]
    href = intents[0]["href"]
    assert parse_qs(urlsplit(href).query) == {"intent": ["price"], "since": ["2026-11-09"], "until": ["2026-11-15"]}
    assert intents[1]["href"] == ""  # no rule's intent: nothing to filter on
    assert response.context["unhandled_rate"] == "33.3%"
    assert f'<a href="{href.replace("&", "&amp;")}">price</a>' in response.content.decode()


# --- Charts -----------------------------------------------------------------------------------------------------


def test_charts_carry_their_series_as_json_and_as_a_table(world, owner_client):
    bot = world["bots"][0]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START + timedelta(days=1)))
    purchase(world, when=at(WEEK_END), amount=1234)
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(home(world["tenant"]), WEEK)

    messages = chart_data(response, "messages")
    assert messages["periods"] == [(WEEK_START + timedelta(days=n)).isoformat() for n in range(7)]
    assert messages["labels"][0] == "9 Nov"
    assert messages["datasets"] == [{"label": "Messages", "data": [0, 1, 0, 0, 0, 0, 0]}]
    assert chart_data(response, "revenue")["datasets"] == [{"label": "USD", "data": [0, 0, 0, 0, 0, 0, 12.34]}]
    assert [chart.key for chart in response.context["charts"]] == [
        "messages", "active-members", "interactions", "conversions", "revenue",
    ]  # fmt: skip
    page = response.content.decode()
    assert page.count('<canvas data-chart-source="chart-') == 5
    assert '<th scope="row">10 Nov</th><td class="num">1</td>' in page  # the fallback table of messages
    assert "12.34 USD" in page
    assert "chart.umd.min.js" in page
    assert "static/js/charts.js" in page


def test_the_revenue_chart_names_its_currency_on_the_title_and_the_axis(world, owner_client):
    purchase(world, when=at(WEEK_END), amount=1234, currency="EUR")
    purchase(world, when=at(WEEK_END), amount=500, currency="USD")
    kpi_aggregate_tenant(tenant=world["tenant"])

    mixed = chart_data(owner_client.get(home(world["tenant"]), WEEK), "revenue")
    assert mixed["title"] == "Revenue (EUR, USD)"
    assert [dataset["label"] for dataset in mixed["datasets"]] == ["EUR", "USD"]

    quiet = chart_data(
        owner_client.get(home(world["tenant"]), {"since": "2026-10-01", "until": "2026-10-07"}), "revenue"
    )
    assert (quiet["title"], quiet["unit"]) == ("Revenue (USD)", "USD")  # nothing earned: the tenant's currency
    assert chart_data(owner_client.get(home(world["tenant"]), WEEK), "messages")["unit"] == ""


def test_a_long_range_renders_every_period_in_the_fallback_tables(world, owner_client):
    bot = world["bots"][0]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(date(2026, 3, 4)))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(
        home(world["tenant"]), {"since": "2025-11-16", "until": "2026-11-15", "granularity": "day"}
    )

    page = response.content.decode()
    assert len(chart_data(response, "messages")["periods"]) == 365
    assert page.count('<tr><th scope="row">') == 5 * 365
    assert '<tr><th scope="row">4 Mar</th><td class="num">1</td>' in page
    # Each fallback table scrolls inside its card and can be reached by keyboard to do so.
    assert page.count('<div class="table-wrap" tabindex="0" role="region" aria-label="Messages as a table">') == 1


def test_chart_data_never_becomes_markup(world, owner_client):
    group = world["bots"][0].group
    group.name = "</script><script>alert(1)</script>"
    group.save()

    page = owner_client.get(home(world["tenant"])).content.decode()

    assert "<script>alert(1)</script>" not in page


# --- Bot health and empty states --------------------------------------------------------------------------------


def test_bot_health_shows_a_badge_and_the_condition_in_words_for_each_bot(world, owner_client):
    tripped, fine = world["bots"]
    tripped.breaker_open_until = timezone.now() + timedelta(minutes=9)
    tripped.breaker_trips = 2
    tripped.save()
    message(world, bot=fine, member=world["members"][fine.pk][0], when=timezone.now())

    response = owner_client.get(home(world["tenant"]))

    badges = {badge.name: badge for badge in response.context["health"]}
    assert (badges[tripped.name].badge, badges[tripped.name].status) == ("warn", "Warning")
    assert "loop breaker is open" in badges[tripped.name].details[0]
    assert (badges[fine.name].badge, badges[fine.name].status) == ("ok", "Healthy")
    page = response.content.decode()
    assert f'<a href="/t/{world["tenant"].slug}/bots/{tripped.pk}/">{tripped.name}</a>' in page
    assert '<span class="badge warn">Warning</span>' in page


def test_a_tenant_without_bots_is_sent_to_onboarding(tenant, owner_client):
    response = owner_client.get(home(tenant))

    assert response.status_code == 200
    page = response.content.decode()
    assert "No bots yet" in page
    assert response.context["onboarding_url"] in (f"/t/{tenant.slug}/start/", f"/t/{tenant.slug}/bots/")
    assert f'href="{response.context["onboarding_url"]}"' in page
    assert "tiles" not in response.context


def test_a_bot_that_never_heard_from_groupme_is_waiting_for_the_first_message(world, owner_client):
    response = owner_client.get(home(world["tenant"]))

    assert response.context["waiting_for_first_message"] is True
    assert "Waiting for the first message" in response.content.decode()

    bot = world["bots"][0]
    message(world, bot=bot, member=world["members"][bot.pk][0], when=timezone.now() - timedelta(minutes=5))
    response = owner_client.get(home(world["tenant"]))
    assert response.context["waiting_for_first_message"] is False
    assert "Waiting for the first message" not in response.content.decode()


# --- Bounded queries --------------------------------------------------------------------------------------------


def _queries(client, url, params) -> int:
    cache.clear()  # the figures computed, not kept from a view before (tests/test_figure_cache.py)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def test_the_overview_costs_the_same_queries_for_3_or_30_days_of_data(
    world, owner_client, django_assert_max_num_queries
):
    # Days before the real today: the job rolls up nothing later than today.
    url, params = home(world["tenant"]), {"since": "2026-10-01", "until": "2026-11-20", "bot": str(world["bots"][0].pk)}
    busy_days(world, days=3, end=date(2026, 11, 20))
    kpi_aggregate_tenant(tenant=world["tenant"])
    few = _queries(owner_client, url, params)

    busy_days(world, days=27, end=date(2026, 11, 17))
    kpi_aggregate_tenant(tenant=world["tenant"])
    # session, user, membership, the bot and group menus, the bot's lookup, bot health (4), kpi_report (4 here),
    # the intent ranking (1), the watermark and the tenant switcher: 18, bounded at 24.
    with django_assert_max_num_queries(24):
        many = _queries(owner_client, url, params)

    assert many == few
