"""The analytics page (/t/<slug>/analytics/) and its CSV downloads: active members, retention, the funnel, intents,
sentiment and community economics for the shared date range; files that keep the filters and defuse formulas."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services import kpi_aggregate_tenant
from analytics.tests.test_pages_overview import (
    WEEK,
    WEEK_END,
    WEEK_START,
    at,
    build_world,
    busy_days,
    chart_data,
    interaction,
    message,
    purchase,
)
from bots.tests.factories import BotFactory
from monetization.tests.factories import ClickFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(name="world")
def world_fixture(tenant):
    return build_world(tenant)


def page(tenant) -> str:
    return f"/t/{tenant.slug}/analytics/"


def download(tenant, kind: str) -> str:
    return f"/t/{tenant.slug}/analytics/export/{kind}.csv"


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- The page ---------------------------------------------------------------------------------------------------


def test_owner_admin_and_analyst_see_every_section(world, client):
    for role in (Role.OWNER, Role.ADMIN, Role.ANALYST):
        client.force_login(MembershipFactory(tenant=world["tenant"], user=UserFactory(), role=role).user)
        response = client.get(page(world["tenant"]))
        assert response.status_code == 200, role
        body = response.content.decode()
        for heading in ("Active members", "Retention by first active week", "Conversion funnel", "Top intents",
                        "Sentiment and unhandled share", "Community economics"):  # fmt: skip
            assert heading in body, (role, heading)
        assert 'aria-current="page">Analytics</a>' in body


def test_dau_wau_and_mau_are_as_of_the_ranges_last_day(world, owner_client):
    bot = world["bots"][0]
    ana, bo, cy = world["members"][bot.pk]
    message(world, bot=bot, member=ana, when=at(WEEK_END))
    message(world, bot=bot, member=bo, when=at(WEEK_END - timedelta(days=6)))
    message(world, bot=bot, member=cy, when=at(WEEK_END - timedelta(days=20)))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(page(world["tenant"]), WEEK)

    active = response.context["active"]
    assert (active["end"], active["dau"], active["wau"], active["mau"]) == (WEEK_END, 1, 2, 3)
    assert response.context["stickiness"] == "33.3%"


def test_retention_is_a_heat_table_with_the_share_printed_in_each_cell(world, owner_client):
    bot = world["bots"][0]
    ana, bo, _ = world["members"][bot.pk]
    monday = date(2026, 10, 5)
    for member in (ana, bo):
        message(world, bot=bot, member=member, when=at(monday))
    message(world, bot=bot, member=ana, when=at(monday + timedelta(days=8)))
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(page(world["tenant"]), {"since": "2026-10-05", "until": "2026-10-25"})

    label, size, cells = response.context["retention_rows"][0]
    assert (label, size) == ("Week of 5 Oct 2026", 2)
    assert [(cell.text, cell.heat) for cell in cells[:4]] == [
        ("100.0%", "heat-10"), ("50.0%", "heat-5"), ("0.0%", "heat-0"), ("—", "unobserved"),
    ]  # fmt: skip
    assert cells[1].detail == "1 of 2"
    body = response.content.decode()
    assert '<td class="num heat-5" title="1 of 2">50.0%<span class="visually-hidden"> (1 of 2)</span></td>' in body
    # A week with no new members has no share to show, rather than a misleading 0%.
    assert response.context["retention_rows"][1][2][0].text == "—"


def _clicked_then_bought(world, *, days_later: int):
    bot = world["bots"][0]
    found = interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START))
    click = ClickFactory(tenant=world["tenant"], interaction=found, clicked_at=at(WEEK_START, 11))
    purchase(world, when=at(WEEK_START + timedelta(days=days_later)), click=click, amount=5000)
    kpi_aggregate_tenant(tenant=world["tenant"])  # the funnel's clicks are the rollups'


def test_the_funnels_conversion_window_is_selectable(world, owner_client):
    _clicked_then_bought(world, days_later=10)
    url, params = page(world["tenant"]), {"since": "2026-11-01", "until": "2026-11-30"}

    by_source = owner_client.get(url, params)
    within_a_week = owner_client.get(url, {**params, "window_days": "7"})

    assert [(row["label"], row["reached"]) for row in by_source.context["funnel_rows"]] == [
        ("Clicks", "1"), ("Signups", "1"), ("Checkouts", "1"), ("Purchases", "1"),
    ]  # fmt: skip
    assert by_source.context["funnel_revenue"] == "50.00 USD"
    assert [row["reached"] for row in within_a_week.context["funnel_rows"]] == ["1", "0", "0", "0"]
    body = within_a_week.content.decode()
    assert '<option value="7" selected>7 days</option>' in body
    assert "within 7 days of the click" in body
    # The main range form carries the window along, so changing dates keeps it.
    assert '<input type="hidden" name="window_days" value="7">' in body
    purchases = within_a_week.context["funnel_rows"][3]["href"]
    assert purchases == f"/t/{world['tenant'].slug}/money/conversions/?since=2026-11-01&until=2026-11-30&kind=purchase"


@pytest.mark.parametrize("window", ["0", "366", "week"])
def test_a_window_out_of_bounds_is_a_400(world, owner_client, window):
    response = owner_client.get(page(world["tenant"]), {"window_days": window})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Conversion window: A whole number from 1 to 365." in body
    # Shown in the main form (not carried hidden), so it can be put right there.
    assert '<label for="id_window_days">Conversion window</label>' in body
    assert f'<input type="hidden" name="window_days" value="{window}">' not in body


def test_a_bad_range_is_a_400_with_the_message_and_no_figures(world, owner_client):
    response = owner_client.get(page(world["tenant"]), {"since": "2026-11-15", "until": "yesterday"})

    assert response.status_code == 400
    assert "To: A date from 2000-01-01 to 2999-12-31, as YYYY-MM-DD." in response.content.decode()
    assert "funnel_rows" not in response.context


def test_top_intents_carry_their_unhandled_share_and_link_to_their_interactions(world, owner_client):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    interaction(world, bot=bot, member=member, when=at(WEEK_START), intent="price")
    interaction(world, bot=bot, member=member, when=at(WEEK_START), intent="price", handled=False)
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(page(world["tenant"]), WEEK)

    row = response.context["intents"][0]
    assert (row["intent"], row["interactions"], row["unhandled_text"]) == ("price", 2, "50.0%")
    assert row["unhandled_href"].endswith("&intent=price&handled=false")
    assert response.context["unhandled_rate"] == "50.0%"


def test_sentiment_trend_is_charted_with_gaps_where_nobody_spoke(world, owner_client):
    bot = world["bots"][0]
    member = world["members"][bot.pk][0]
    interaction(world, bot=bot, member=member, when=at(WEEK_START), sentiment=0.6)
    interaction(world, bot=bot, member=member, when=at(WEEK_START), sentiment=-0.2, handled=False)
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(page(world["tenant"]), WEEK)

    sentiment, unhandled = chart_data(response, "sentiment")["datasets"]
    assert sentiment["data"] == [0.2, None, None, None, None, None, None]
    assert unhandled["data"][0] == 0.5
    assert '<th scope="row">9 Nov</th><td class="num">+0.20</td><td class="num">50.0%</td>' in response.content.decode()


def test_community_economics_per_group_engaged_member_and_thousand_replies(world, owner_client):
    bot = world["bots"][0]
    ana, bo, _ = world["members"][bot.pk]
    first = interaction(world, bot=bot, member=ana, when=at(WEEK_START), intent="price")
    interaction(world, bot=bot, member=bo, when=at(WEEK_START), intent="hours")
    purchase(world, when=at(WEEK_START, 14), interaction=first, amount=3000)
    kpi_aggregate_tenant(tenant=world["tenant"])

    economics = owner_client.get(page(world["tenant"]), WEEK).context["economics"]

    assert economics["summary"]["per_member"] == "15.00 USD"
    assert economics["summary"]["per_1000_replies"] == "15,000.00 USD"
    group = economics["groups"][0]
    assert (group["name"], group["revenue"], group["engaged_members"]) == ("Anglers", "30.00 USD", "2")
    assert group["href"] == f"/t/{world['tenant'].slug}/groups/{bot.group_id}/"
    assert [(row["name"], row["revenue"]) for row in economics["intents"]] == [("hours", "—"), ("price", "30.00 USD")]


def test_every_download_button_keeps_the_pages_filters(world, owner_client):
    bot = world["bots"][0]
    params = {**WEEK, "bot": str(bot.pk), "window_days": "14"}

    body = owner_client.get(page(world["tenant"]), params).content.decode()

    query = f"range=custom&amp;since=2026-11-09&amp;until=2026-11-15&amp;bot={bot.pk}&amp;window_days=14"
    for kind in ("kpis", "interactions", "conversions", "retention", "funnel", "economics"):
        assert f'href="{download(world["tenant"], kind)}?{query}" download>' in body, kind


def test_the_analytics_page_costs_the_same_queries_for_3_or_30_days_of_data(
    world, owner_client, django_assert_max_num_queries
):
    # Days before the real today: the job rolls up nothing later than today.
    url, params = page(world["tenant"]), {"since": "2026-10-01", "until": "2026-11-20", "window_days": "30"}
    busy_days(world, days=3, end=date(2026, 11, 20))
    kpi_aggregate_tenant(tenant=world["tenant"])
    cache.clear()  # the figures computed, not kept from a view before (tests/test_figure_cache.py)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url, params)

    busy_days(world, days=27, end=date(2026, 11, 17))
    kpi_aggregate_tenant(tenant=world["tenant"])
    cache.clear()
    # session, user, membership, the bot and group menus, kpi_report (4 here), retention (1),
    # funnel (3 with a fixed window), intents (2), economics (4), active members (1), sentiment (1), the watermark
    # and the tenant switcher: 23, bounded at 26.
    with django_assert_max_num_queries(26), CaptureQueriesContext(connection) as many:
        assert owner_client.get(url, params).status_code == 200

    assert len(many) == len(few)


# --- CSV downloads ----------------------------------------------------------------------------------------------


def test_the_kpi_download_is_the_series_and_the_total_for_the_range(world, owner_client):
    bot = world["bots"][0]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START + timedelta(days=1)))
    purchase(world, when=at(WEEK_END), amount=1500)
    kpi_aggregate_tenant(tenant=world["tenant"])

    response = owner_client.get(download(world["tenant"], "kpis"), WEEK)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="botyard-alices-anglers-kpis-')
    rows = csv_rows(response)
    header = rows[0]
    assert header[:4] == ["period", "messages", "active_members", "interactions"]
    assert "revenue_USD" in header
    assert [row[0] for row in rows[1:]] == [(WEEK_START + timedelta(days=n)).isoformat() for n in range(7)] + ["total"]
    assert rows[2][header.index("interactions")] == "1"
    assert rows[-1][header.index("revenue_USD")] == "1500"


def test_the_kpi_download_follows_the_chosen_granularity(world, owner_client):
    params = {"since": "2026-01-01", "until": "2026-03-31", "granularity": "month"}

    rows = csv_rows(owner_client.get(download(world["tenant"], "kpis"), params))

    assert [row[0] for row in rows[1:]] == ["2026-01-01", "2026-02-01", "2026-03-01", "total"]


def test_the_interactions_download_has_the_rows_of_the_range_and_bot_with_formulas_defused(world, owner_client):
    bot, other_bot = world["bots"]
    member = world["members"][bot.pk][0]
    inside = interaction(world, bot=bot, member=member, when=at(WEEK_END, 22), text='=HYPERLINK("http://x")')
    interaction(world, bot=bot, member=member, when=at(WEEK_END + timedelta(days=1)))  # after the range
    interaction(world, bot=other_bot, member=world["members"][other_bot.pk][0], when=at(WEEK_START))

    response = owner_client.get(download(world["tenant"], "interactions"), {**WEEK, "bot": str(bot.pk)})

    header, *rows = csv_rows(response)
    assert header[:3] == ["id", "occurred_at", "bot_id"]
    assert [row[0] for row in rows] == [str(inside.pk)]
    assert rows[0][header.index("occurred_at")] == "2026-11-15T22:30:00-06:00"
    assert rows[0][header.index("message_text")] == '\'=HYPERLINK("http://x")'


def test_the_conversions_download_has_those_that_occurred_in_the_range(world, owner_client):
    inside = purchase(world, when=at(WEEK_START, 1), amount=-700, outcome="refund")
    purchase(world, when=at(WEEK_START - timedelta(days=1), 23))
    purchase(world, when=at(WEEK_END + timedelta(days=1), 0))  # 00:30 the day after

    header, *rows = csv_rows(owner_client.get(download(world["tenant"], "conversions"), WEEK))

    assert [row[0] for row in rows] == [str(inside.pk)]
    assert rows[0][header.index("amount")] == "-700"  # a number, not a defused formula
    assert rows[0][header.index("amount_display")] == "'-7.00 USD"


def test_the_retention_and_funnel_downloads_hold_the_tables_figures(world, owner_client):
    _clicked_then_bought(world, days_later=2)
    kpi_aggregate_tenant(tenant=world["tenant"])
    params = {"since": "2026-11-09", "until": "2026-11-30", "window_days": "7"}

    retention = csv_rows(owner_client.get(download(world["tenant"], "retention"), params))
    funnel = csv_rows(owner_client.get(download(world["tenant"], "funnel"), params))

    assert retention[0][:6] == ["cohort_week", "members", "week_0_active", "week_0_share", "week_1_active",
                                "week_1_share"]  # fmt: skip
    assert retention[1][:4] == ["2026-11-09", "1", "1", "1.0"]
    assert funnel[0] == ["step", "reached", "conversions", "rate_from_previous", "rate_from_clicks", "window_days",
                         "revenue_USD"]  # fmt: skip
    assert funnel[1][:3] == ["click", "1", "1"]
    assert funnel[4] == ["purchase", "1", "1", "1.0", "1.0", "7", "5000"]


def test_the_economics_download_defuses_a_group_name_that_looks_like_a_formula(world, owner_client):
    bot = world["bots"][0]
    bot.group.name = "=1+2"
    bot.group.save()
    first = interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START), intent="@sum")
    purchase(world, when=at(WEEK_START), interaction=first, amount=4000)
    kpi_aggregate_tenant(tenant=world["tenant"])

    header, *rows = csv_rows(owner_client.get(download(world["tenant"], "economics"), WEEK))

    assert header[:7] == ["row", "group_id", "name", "interactions", "engaged_members", "replies", "purchases"]
    by_kind = {(row[0], row[2]): row for row in rows}
    assert by_kind[("group", "'=1+2")][header.index("revenue_USD")] == "4000"
    assert ("intent", "'@sum") in by_kind
    assert by_kind[("total", "")][header.index("revenue_per_engaged_member_USD")] == "4000.0"


@pytest.mark.parametrize("kind", ["secrets", "ledger", "kpis.json"])
def test_a_download_that_is_not_offered_is_a_404(world, owner_client, kind):
    assert owner_client.get(download(world["tenant"], kind)).status_code == 404


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-11-15", "until": "2026-11-01"}, "To: On or after the From date."),
        ({"since": "15/11/2026", "until": "2026-11-20"}, "From: A date from 2000-01-01 to 2999-12-31, as YYYY-MM-DD."),
        ({"window_days": "0"}, "Conversion window: A whole number from 1 to 365."),
    ],
)
def test_a_download_with_bad_filters_is_a_400_saying_why(world, owner_client, params, message):
    response = owner_client.get(download(world["tenant"], "kpis"), params)

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.content.decode()


def test_downloads_are_for_members_of_the_tenant_only(world, client, other_tenant):
    url = download(world["tenant"], "interactions")
    assert client.get(url).status_code == 302  # anonymous: to the login page

    client.force_login(MembershipFactory(tenant=world["tenant"], user=UserFactory(), role=Role.ANALYST).user)
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 403

    client.force_login(MembershipFactory(tenant=other_tenant, user=UserFactory(), role=Role.OWNER).user)
    assert client.get(url).status_code == 404


def test_another_tenants_bot_cannot_be_used_to_filter_a_download(world, owner_client, other_tenant):
    theirs = BotFactory(tenant=other_tenant)

    response = owner_client.get(download(world["tenant"], "interactions"), {"bot": str(theirs.pk)})

    assert response.status_code == 400
    assert "Bot: No such bot." in response.content.decode()


def test_a_row_download_costs_the_same_queries_for_3_or_30_days_of_data(world, owner_client):
    url, params = download(world["tenant"], "interactions"), {"since": "2026-10-01", "until": "2026-11-30"}
    busy_days(world, days=3, end=date(2026, 11, 30))
    with CaptureQueriesContext(connection) as few:
        assert len(csv_rows(owner_client.get(url, params))) == 1 + 6

    busy_days(world, days=27, end=date(2026, 11, 17))
    with CaptureQueriesContext(connection) as many:
        assert len(csv_rows(owner_client.get(url, params))) == 1 + 60

    assert len(many) == len(few)
