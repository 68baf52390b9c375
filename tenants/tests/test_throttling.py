import pytest
from django.test import override_settings

from tenants.api.throttling import parse_rate

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


@override_settings(API_THROTTLE_RATE="3/min")
def test_a_key_over_its_rate_gets_429_with_retry_after(api):
    statuses = [api.get(KEYS_URL).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    throttled = api.get(KEYS_URL)
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60


@override_settings(API_THROTTLE_RATE="2/min")
def test_each_key_has_its_own_budget(tenant, api_client_for):
    first, second = api_client_for(tenant), api_client_for(tenant)
    for _ in range(2):
        first.get(KEYS_URL)

    assert first.get(KEYS_URL).status_code == 429
    assert second.get(KEYS_URL).status_code == 200


@pytest.mark.parametrize(
    ("rate", "parsed"),
    [("600/min", (600, 60)), ("10/s", (10, 1)), ("5/hour", (5, 3600)), ("100/day", (100, 86400))],
)
def test_rates_are_read_like_drf_rates(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["fast", "10/fortnight", "x/min"])
def test_a_malformed_rate_is_refused(rate):
    with pytest.raises(ValueError, match="API_THROTTLE_RATE"):
        parse_rate(rate)
