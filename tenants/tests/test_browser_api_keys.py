"""API keys in a real browser: create, roll, copy the new key from the clipboard and use it; revoke after a confirm."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from tenants.models import ApiKey, Role
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _api_status(raw_key: str) -> int:
    return Client().get("/api/v1/bots/", HTTP_AUTHORIZATION=f"Api-Key {raw_key}").status_code


@pytest.fixture
def owner(tenant):
    user = UserFactory(email="owner@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    return user


def test_roll_a_key_copy_the_new_one_and_both_work_during_the_grace_period(browser_login, tenant, owner):
    page = browser_login(owner)
    page.goto(f"/t/{tenant.slug}/api-keys/")

    page.get_by_label("Key name").fill("Deploy bot")
    page.get_by_role("button", name="Create key").click()
    first_key = page.get_by_label("API key").input_value()
    page.get_by_role("link", name="Done, back to API keys").click()
    assert first_key not in page.content()  # shown once

    page.get_by_role("button", name="Roll Deploy bot").click()
    new_key = page.get_by_label("API key").input_value()
    assert new_key != first_key
    assert "keeps working until" in page.get_by_role("status").inner_text()

    # localhost is a secure context, so app.js takes the Clipboard API path (not its execCommand fallback).
    assert page.evaluate("window.isSecureContext") is True
    copy = page.get_by_role("button", name="Copy", exact=True)
    copy.click()
    # expect() polls from Playwright's own world; wait_for_function(<string>) polls by eval, which the CSP refuses.
    expect(page.locator('[data-copy="new-api-key"]')).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")

    assert copied == new_key
    assert _api_status(copied) == 200
    assert _api_status(first_key) == 200  # the old key still works during its grace period
    old = ApiKey.objects.get(replaced_by__isnull=False)
    assert old.status == ApiKey.Status.ROTATED


def test_revoking_asks_first_and_the_key_stops_working(browser_login, tenant, owner):
    key = ApiKeyFactory(tenant=tenant, name="Leaked")
    assert _api_status(key.raw_key) == 200
    page = browser_login(owner)
    page.goto(f"/t/{tenant.slug}/api-keys/")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Revoke Leaked").click()
    assert _api_status(key.raw_key) == 200  # dismissed: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke Leaked").click()

    assert "Revoked “Leaked”" in page.get_by_role("status").first.inner_text()
    assert _api_status(key.raw_key) == 401
