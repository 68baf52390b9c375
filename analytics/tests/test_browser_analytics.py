"""In a real browser: changing the overview's date range redraws its charts and tiles from the new figures, and a
CSV button on the analytics page downloads the rows of the chosen range."""

import csv
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.periods import tenant_today
from analytics.services import kpi_aggregate_tenant
from bots.tests.factories import BotFactory, InteractionFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def owner_with_two_periods(tenant):
    """An owner of a Chicago tenant with 2 interactions 3 days ago and 5 more 50 days ago, rolled up."""
    tenant.time_zone = CHICAGO
    tenant.save()
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, name="Anglers"))
    member = MemberFactory(tenant=tenant, group=bot.group)
    today = tenant_today(tenant)
    for days_ago, count in ((3, 2), (50, 5)):
        when = datetime.combine(today - timedelta(days=days_ago), time(12), tzinfo=CHICAGO)
        for _ in range(count):
            message = MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, sent_at=when)
            InteractionFactory(tenant=tenant, bot=bot, group=bot.group, member=member, message=message,
                               occurred_at=when, message_text="=SUM(A1:A9)")  # fmt: skip
    kpi_aggregate_tenant(tenant=tenant)
    user = UserFactory(email="owner@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    return user


def _chart(page, key: str) -> dict:
    """The chart's series as the page ships them, and as Chart.js drew them on the canvas."""
    return page.evaluate(
        """(key) => {
            const shipped = JSON.parse(document.getElementById(`chart-${key}-data`).textContent);
            const drawn = Chart.getChart(document.querySelector(`canvas[data-chart-source="chart-${key}-data"]`));
            return {shipped, drawn: drawn.data.datasets.map((set) => set.data), labels: drawn.data.labels};
        }""",
        key,
    )


def test_changing_the_date_range_redraws_the_charts_and_tiles(browser_login, tenant, owner_with_two_periods):
    page = browser_login(owner_with_two_periods)
    assert page.url.endswith(f"/t/{tenant.slug}/")

    last_30 = _chart(page, "interactions")
    assert len(last_30["shipped"]["periods"]) == 30
    assert last_30["drawn"][0] == last_30["shipped"]["datasets"][0]["data"]
    assert sum(last_30["drawn"][0]) == 2
    assert page.locator('[data-kpi="interactions"] .value').inner_text() == "2"

    page.get_by_label("Date range", exact=True).select_option("90d")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url("**range=90d**")

    last_90 = _chart(page, "interactions")
    assert len(last_90["labels"]) == 90
    assert sum(last_90["drawn"][0]) == 7
    assert page.locator('[data-kpi="interactions"] .value').inner_text() == "7"

    # Editing a date switches the control to custom dates: just the older five.
    today = tenant_today(tenant)
    page.get_by_label("From", exact=True).fill((today - timedelta(days=55)).isoformat())
    page.get_by_label("To", exact=True).fill((today - timedelta(days=45)).isoformat())
    assert page.get_by_label("Date range", exact=True).input_value() == "custom"
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url("**range=custom**")

    assert page.locator('[data-kpi="interactions"] .value').inner_text() == "5"
    assert sum(_chart(page, "interactions")["drawn"][0]) == 5


def test_a_csv_button_downloads_the_rows_of_the_chosen_range(browser_login, tenant, owner_with_two_periods):
    page = browser_login(owner_with_two_periods)
    page.goto(f"/t/{tenant.slug}/analytics/?range=7d")

    with page.expect_download() as started:
        page.get_by_role("link", name="Download interactions").click()
    download = started.value

    assert download.suggested_filename.startswith(f"botyard-{tenant.slug}-interactions-")
    with open(download.path(), encoding="utf-8") as file:
        header, *rows = list(csv.reader(io.StringIO(file.read())))
    assert header[:4] == ["id", "occurred_at", "bot_id", "bot_name"]
    assert len(rows) == 2  # the 7 days hold the two recent interactions, not the five older ones
    assert {row[header.index("message_text")] for row in rows} == {"'=SUM(A1:A9)"}

    page.get_by_label("Date range", exact=True).select_option("90d")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url("**range=90d**")
    with page.expect_download() as started:
        page.get_by_role("link", name="Download figures per period").click()
    with open(started.value.path(), encoding="utf-8") as file:
        kpi_header, *kpi_rows = list(csv.reader(io.StringIO(file.read())))
    assert kpi_header[:4] == ["period", "messages", "active_members", "interactions"]
    assert len(kpi_rows) == 90 + 1  # a row per day and the total
    assert kpi_rows[-1][0] == "total"
    assert kpi_rows[-1][kpi_header.index("interactions")] == "7"
