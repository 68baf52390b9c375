"""Figures kept per KPI run (analytics.figure_cache): a range viewed again before the next run reads none of the
figures' tables; the next run, or a rebuild, shows what changed; before the first run nothing is kept."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.figure_cache import figures_refresh_viewed
from analytics.services import kpi_aggregate_tenant
from analytics.tests.test_pages_overview import WEEK, WEEK_END, WEEK_START, at, build_world, home, interaction, purchase
from monetization.tests.factories import ClickFactory
from tenants.tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

# The tables the kept figures come from (bot health, live on every view, reads others).
FIGURE_TABLES = ("analytics_", "monetization_conversion", "monetization_click", "groups_member")


@pytest.fixture(name="world")
def world_fixture(tenant):
    world = build_world(tenant)
    bot = world["bots"][0]
    found = interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START))
    purchase(world, when=at(WEEK_START, 12), click=ClickFactory(tenant=tenant, interaction=found,
                                                               clicked_at=at(WEEK_START, 11)))  # fmt: skip
    return world


def _figure_statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries if any(table in query["sql"] for table in FIGURE_TABLES)
            and "analytics_aggregationwatermark" not in query["sql"]]  # fmt: skip


def analytics_page(tenant) -> str:
    return f"/t/{tenant.slug}/analytics/"


@pytest.mark.parametrize(("page", "figures"), [(home, "tiles"), (analytics_page, "kpi_rows")])
def test_a_range_viewed_again_before_the_next_run_reads_no_figures(world, owner_client, page, figures):
    kpi_aggregate_tenant(tenant=world["tenant"])
    first = owner_client.get(page(world["tenant"]), WEEK)
    with CaptureQueriesContext(connection) as again:
        second = owner_client.get(page(world["tenant"]), WEEK)
    with CaptureQueriesContext(connection) as other_range:
        owner_client.get(page(world["tenant"]), {**WEEK, "until": (WEEK_END + timedelta(days=1)).isoformat()})

    assert second.status_code == 200
    assert second.context[figures] == first.context[figures]
    assert _figure_statements(again) == []
    assert _figure_statements(other_range)  # a range of its own is computed


def test_the_funnel_shows_a_new_conversion_after_the_next_run(world, owner_client):
    tenant = world["tenant"]
    kpi_aggregate_tenant(tenant=tenant)
    before = owner_client.get(analytics_page(tenant), WEEK).context["funnel"]
    bot = world["bots"][1]
    found = interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START + timedelta(days=1)))
    click = ClickFactory(tenant=tenant, interaction=found, clicked_at=at(WEEK_START + timedelta(days=1), 11))
    purchase(world, when=at(WEEK_START + timedelta(days=1), 12), click=click)

    kept = owner_client.get(analytics_page(tenant), WEEK).context["funnel"]
    kpi_aggregate_tenant(tenant=tenant)
    after = owner_client.get(analytics_page(tenant), WEEK).context["funnel"]

    assert kept == before
    assert [step["reached"] for step in before["steps"]] == [1, 1, 1, 1]
    assert [step["reached"] for step in after["steps"]] == [2, 2, 2, 2]


@pytest.mark.parametrize("page", [home, analytics_page])
def test_the_kpi_run_computes_the_ranges_viewed_lately_before_they_are_asked_for(world, owner_client, page):
    tenant = world["tenant"]
    kpi_aggregate_tenant(tenant=tenant)
    before = owner_client.get(page(tenant), WEEK).context["figures_as_of"]
    bot = world["bots"][1]
    interaction(world, bot=bot, member=world["members"][bot.pk][0], when=at(WEEK_START + timedelta(days=2)))

    kpi_aggregate_tenant(tenant=tenant)
    with CaptureQueriesContext(connection) as next_view:
        response = owner_client.get(page(tenant), WEEK)

    assert _figure_statements(next_view) == []
    assert response.context["figures_as_of"] > before
    totals = response.context["kpi_totals"] if page is analytics_page else None
    tiles = {tile.key: tile.value for tile in response.context.get("tiles") or []}
    assert (totals["interactions"] if totals else int(tiles["interactions"])) == 2


def test_a_range_not_viewed_lately_is_left_to_its_first_view(world, owner_client):
    tenant = world["tenant"]
    kpi_aggregate_tenant(tenant=tenant)
    owner_client.get(analytics_page(tenant), WEEK)
    cache.delete(f"figures:viewed:{tenant.pk}:")  # an hour without a view that computed it

    kpi_aggregate_tenant(tenant=tenant)
    with CaptureQueriesContext(connection) as next_view:
        owner_client.get(analytics_page(tenant), WEEK)

    assert _figure_statements(next_view)


@pytest.mark.parametrize("page", [home, analytics_page])
def test_while_the_pages_are_in_use_the_kpi_run_computes_their_default_view_even_unviewed(world, owner_client, page):
    tenant = world["tenant"]
    kpi_aggregate_tenant(tenant=tenant)
    owner_client.get(analytics_page(tenant), WEEK)  # the tenant's pages are in use
    cache.delete(f"figures:viewed:{tenant.pk}:")  # and no range was viewed in the last hour

    kpi_aggregate_tenant(tenant=tenant)
    with CaptureQueriesContext(connection) as first_view_of_the_day:
        response = owner_client.get(page(tenant))
    with CaptureQueriesContext(connection) as chosen_range:
        owner_client.get(page(tenant), WEEK)

    assert response.status_code == 200
    assert response.context["range_form"].data["range"] == "30d"
    assert _figure_statements(first_view_of_the_day) == []
    assert _figure_statements(chosen_range)  # not a default view, and not viewed lately


def test_a_tenant_whose_pages_are_not_in_use_costs_the_kpi_run_no_figures(world, owner_client):
    tenant, other = world["tenant"], TenantFactory()
    kpi_aggregate_tenant(tenant=other)
    kpi_aggregate_tenant(tenant=tenant)
    owner_client.get(analytics_page(tenant))  # the other tenant's staff are busy

    assert figures_refresh_viewed(tenant=other) == 0
    assert figures_refresh_viewed(tenant=tenant) == 1  # the overview's default view; the analytics page's is kept
    assert cache.get(f"figures:used:{other.pk}:") is None


def test_before_the_first_run_the_figures_are_computed_on_every_view(world, owner_client):
    owner_client.get(analytics_page(world["tenant"]), WEEK)
    with CaptureQueriesContext(connection) as again:
        owner_client.get(analytics_page(world["tenant"]), WEEK)

    assert _figure_statements(again)


def test_with_the_cache_down_the_figures_are_computed(world, owner_client, monkeypatch):
    kpi_aggregate_tenant(tenant=world["tenant"])
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: None)  # what django-redis answers when Redis is away
    monkeypatch.setattr(cache, "set", lambda *args, **kwargs: None)

    response = owner_client.get(analytics_page(world["tenant"]), WEEK)

    assert response.status_code == 200
    assert [step["reached"] for step in response.context["funnel"]["steps"]] == [1, 1, 1, 1]


def test_the_kpi_api_keeps_its_figures_per_run_too(world, api_client_for):
    api = api_client_for(world["tenant"])
    params = {"start": WEEK_START.isoformat(), "end": WEEK_END.isoformat()}
    kpi_aggregate_tenant(tenant=world["tenant"])
    first = api.get("/api/v1/kpis/", params)
    with CaptureQueriesContext(connection) as again:
        second = api.get("/api/v1/kpis/", params)

    assert second.json() == first.json()
    assert first.json()["totals"]["purchases"] == 1
    assert _figure_statements(again) == []
