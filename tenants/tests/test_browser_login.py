"""Logging in through a real browser lands on the tenant's overview; a wrong password stays on the form."""

import pytest

from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_logging_in_lands_on_the_tenants_overview(browser_login, tenant):
    user = UserFactory(email="staff@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)

    page = browser_login(user)

    assert page.url.endswith(f"/t/{tenant.slug}/")
    assert page.get_by_role("navigation", name="Dashboard").is_visible()
    assert tenant.name in page.title()


def test_a_wrong_password_stays_on_the_login_form(browser_page, tenant):
    user = UserFactory(email="staff@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)

    browser_page.goto(f"/t/{tenant.slug}/")
    assert "/accounts/login/" in browser_page.url
    browser_page.get_by_label("E-mail address").fill(user.email)
    browser_page.get_by_label("Password").fill("not-the-password")
    browser_page.get_by_role("button", name="Log in").click()

    assert "/accounts/login/" in browser_page.url
    assert browser_page.locator(".form-error").is_visible()
