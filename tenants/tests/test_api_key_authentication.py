"""`api_key_get_for_authentication` reads only what it checks, in one statement, and keeps every rule it had."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tenants.keys import api_key_generate
from tenants.models import ApiKey
from tenants.selectors import api_key_get_for_authentication
from tenants.services import api_key_mark_used
from tenants.tests.factories import ApiKeyFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_a_good_key_comes_back_with_its_whole_tenant_in_one_statement(django_assert_num_queries):
    tenant = TenantFactory(time_zone="America/Chicago", default_currency="EUR")
    api_key = ApiKeyFactory(tenant=tenant)

    with django_assert_num_queries(1):
        found = api_key_get_for_authentication(raw_key=api_key.raw_key)
        assert found is not None
        # The request's tenant, as the ORM would build it (converted fields included), with no second query.
        assert found.tenant == tenant
        assert (found.tenant.time_zone, found.tenant.default_currency) == (ZoneInfo("America/Chicago"), "EUR")
        assert (found.tenant.slug, found.tenant.created_at) == (tenant.slug, tenant.created_at)
        assert (found.pk, found.tenant_id, found.prefix) == (api_key.pk, tenant.pk, api_key.prefix)
        assert (found.status, found.expires_at, found.last_used_at) == (ApiKey.Status.ACTIVE, api_key.expires_at, None)

    with django_assert_num_queries(1):  # a column it did not read loads on first access, like a deferred field
        assert found.name == api_key.name


def test_marking_the_found_key_used_writes_once_and_then_not_while_fresh(tenant, django_assert_num_queries):
    api_key = ApiKeyFactory(tenant=tenant)
    found = api_key_get_for_authentication(raw_key=api_key.raw_key)
    assert found is not None

    with django_assert_num_queries(1):
        api_key_mark_used(api_key=found)
    again = api_key_get_for_authentication(raw_key=api_key.raw_key)
    assert again is not None
    assert again.last_used_at == found.last_used_at
    with django_assert_num_queries(0):
        api_key_mark_used(api_key=again)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"status": ApiKey.Status.REVOKED}, id="revoked"),
        pytest.param({"status": ApiKey.Status.EXPIRED}, id="expired"),
        pytest.param({"expires_at_offset": timedelta(seconds=-1)}, id="past-its-expiry"),
        pytest.param({"status": ApiKey.Status.ROTATED, "expires_at_offset": timedelta(seconds=-1)}, id="grace-ended"),
        pytest.param({"tenant_inactive": True}, id="tenant-deactivated"),
    ],
)
def test_a_key_that_is_not_usable_is_refused(tenant, state):
    api_key = ApiKeyFactory(
        tenant=tenant,
        status=state.get("status", ApiKey.Status.ACTIVE),
        expires_at=timezone.now() + state.get("expires_at_offset", timedelta(days=1)),
    )
    if state.get("tenant_inactive"):
        tenant.is_active = False
        tenant.save()

    assert api_key_get_for_authentication(raw_key=api_key.raw_key) is None


def test_a_rotated_key_works_until_its_grace_period_ends(tenant):
    api_key = ApiKeyFactory(tenant=tenant, status=ApiKey.Status.ROTATED, expires_at=timezone.now() + timedelta(hours=1))

    assert api_key_get_for_authentication(raw_key=api_key.raw_key) == api_key
    later = timezone.now() + timedelta(hours=2)
    assert api_key_get_for_authentication(raw_key=api_key.raw_key, now=later) is None


@pytest.mark.parametrize("tamper", ["secret", "unknown-id", "garbage"])
def test_a_key_that_does_not_match_is_refused(tenant, tamper):
    api_key = ApiKeyFactory(tenant=tenant)
    raw_key = {
        "secret": api_key.raw_key[:-1] + ("0" if api_key.raw_key[-1] != "0" else "1"),
        "unknown-id": api_key_generate().raw_key,  # well formed, never stored
        "garbage": "not a key at all",
    }[tamper]

    assert api_key_get_for_authentication(raw_key=raw_key) is None
