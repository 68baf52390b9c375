"""In a real browser, under the Content-Security-Policy: the dashboard, the API docs and the Django admin render and
run without one violation. A violation shows as a `securitypolicyviolation` event and a console error; both are
collected from the first byte of every page, so an inline script, style or handler anywhere fails the test."""

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from analytics.periods import tenant_today
from analytics.services import kpi_aggregate_tenant
from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from tenants.models import Role, User
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-browser-tests"
# Runs before any script of the page: records each violation the browser reports.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def csp_page(browser_page: Any) -> Any:
    """The browser page, keeping every CSP complaint (events and console) in `page.csp_violations`."""
    console: list[str] = []
    browser_page.add_init_script(RECORD_VIOLATIONS)
    browser_page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )

    def violations() -> list[str]:
        return console + browser_page.evaluate("window.__cspViolations || []")

    browser_page.csp_violations = violations
    return browser_page


def _visit(page: Any, path: str) -> None:
    response = page.goto(path)
    assert response is not None, path
    assert response.ok, (path, response.status)
    assert "content-security-policy" in response.headers  # Playwright names headers in lower case
    page.wait_for_load_state("networkidle")
    assert page.csp_violations() == [], path


@pytest.fixture
def owner_with_history(tenant):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, name="Anglers"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help")
    member = MemberFactory(tenant=tenant, group=bot.group)
    when = datetime.combine(tenant_today(tenant) - timedelta(days=3), time(12), tzinfo=tenant.time_zone)
    for _ in range(3):
        message = MessageFactory(tenant=tenant, group=bot.group, bot=bot, member=member, sent_at=when)
        InteractionFactory(tenant=tenant, bot=bot, group=bot.group, member=member, message=message, occurred_at=when)
    kpi_aggregate_tenant(tenant=tenant)
    user = UserFactory(email="owner@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    user.bot = bot
    return user


def test_the_dashboard_runs_its_scripts_and_charts_without_a_csp_violation(
    csp_page: Any, browser_login: Any, tenant: Any, owner_with_history: Any
) -> None:
    _visit(csp_page, "/accounts/login/")
    page = browser_login(owner_with_history)
    assert page.url.endswith(f"/t/{tenant.slug}/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof htmx") == "object"  # the vendored scripts ran
    assert page.evaluate("document.querySelectorAll('canvas').length") > 0
    assert page.evaluate("typeof Chart") == "function"
    assert page.csp_violations() == []

    # The bots pages carry an htmx-config of their own, which htmx reads instead of base.html's.
    bot = owner_with_history.bot
    for path in (f"/t/{tenant.slug}/analytics/", f"/t/{tenant.slug}/bots/", f"/t/{tenant.slug}/bots/{bot.pk}/"):
        _visit(page, path)


def test_the_api_docs_render_without_a_csp_violation(csp_page: Any) -> None:
    _visit(csp_page, "/api/docs/")

    csp_page.locator(".swagger-ui .info .title").wait_for()
    assert "Botyard API" in csp_page.locator(".swagger-ui .info .title").inner_text()
    assert csp_page.locator(".opblock").count() > 10  # the operations were read from /api/schema/
    assert csp_page.csp_violations() == []


def test_the_admin_login_changelist_and_change_form_work_under_the_csp(csp_page, tenant):
    bot = BotFactory(tenant=tenant)
    User.objects.create_superuser("admin@example.com", PASSWORD)

    _visit(csp_page, "/admin/login/")
    csp_page.fill("#id_username", "admin@example.com")
    csp_page.fill("#id_password", PASSWORD)
    csp_page.click("input[type=submit]")
    csp_page.wait_for_url("**/admin/")
    for path in ("/admin/", "/admin/bots/bot/", f"/admin/bots/bot/{bot.pk}/change/", "/admin/bots/interaction/"):
        _visit(csp_page, path)
    # The admin's own scripts ran: the actions bar counts selected rows, the inline formset has its add row.
    csp_page.goto("/admin/bots/bot/")
    csp_page.check("input.action-select")
    assert "1 of 1 selected" in csp_page.locator(".action-counter").inner_text()
    assert csp_page.csp_violations() == []
