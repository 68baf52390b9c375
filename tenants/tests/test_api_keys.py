from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from tenants.keys import api_key_hash
from tenants.models import ApiKey, Role
from tenants.services import api_key_rotate, api_keys_lifecycle_run
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/v1/api-keys/"


def _client_with(raw_key: str, *, header: str = "authorization") -> APIClient:
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    else:
        client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def test_created_key_is_shown_once_and_only_its_hash_is_stored(api):
    response = api.post(KEYS_URL, {"name": "Zapier"}, format="json")

    assert response.status_code == 201
    raw_key = response.json()["key"]
    assert raw_key.startswith("byd_")
    stored = ApiKey.objects.get(pk=response.json()["id"])
    assert stored.key_hash == api_key_hash(raw_key)
    assert raw_key not in {stored.key_hash, stored.lookup_id, stored.name}
    listed = api.get(KEYS_URL).json()["results"]
    assert {key["name"] for key in listed} == {"Zapier", api.api_key.name}
    assert all("key" not in key for key in listed)
    assert _client_with(raw_key).get(KEYS_URL).status_code == 200


def test_key_works_in_either_header(api):
    raw_key = api.api_key.raw_key
    assert _client_with(raw_key, header="x-api-key").get(KEYS_URL).status_code == 200
    assert _client_with(raw_key).get(KEYS_URL).status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"HTTP_AUTHORIZATION": "Api-Key byd_nope"},
        {"HTTP_AUTHORIZATION": "Bearer something"},
        {"HTTP_X_API_KEY": "byd_0123456789ab_" + "x" * 43},
    ],
    ids=["missing", "malformed", "other-scheme", "unknown"],
)
def test_requests_without_a_valid_key_get_401(tenant, credentials):
    ApiKeyFactory(tenant=tenant)
    response = APIClient().get(KEYS_URL, **credentials)

    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_a_tampered_secret_is_refused(api):
    raw_key = api.api_key.raw_key
    tampered = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
    assert _client_with(tampered).get(KEYS_URL).status_code == 401


def test_rotation_gives_a_working_key_and_keeps_the_old_one_for_the_grace_period(api):
    old = api.api_key
    response = api.post(f"{KEYS_URL}{old.pk}/rotate/")

    assert response.status_code == 201
    new_raw = response.json()["key"]
    old.refresh_from_db()
    assert old.status == ApiKey.Status.ROTATED
    assert str(old.replaced_by_id) == response.json()["id"]
    assert timedelta(hours=23) < old.expires_at - timezone.now() <= timedelta(hours=24)
    assert _client_with(new_raw).get(KEYS_URL).status_code == 200
    assert _client_with(old.raw_key).get(KEYS_URL).status_code == 200
    assert api.get(f"{KEYS_URL}{old.pk}/").json()["status"] == "rotated"


@override_settings(API_KEY_ROTATION_GRACE_HOURS=0)
def test_rotated_key_stops_working_when_its_grace_period_ends(api):
    old = api.api_key
    api.post(f"{KEYS_URL}{old.pk}/rotate/")

    assert _client_with(old.raw_key).get(KEYS_URL).status_code == 401


def test_only_an_active_key_can_be_rotated(api, tenant):
    revoked = ApiKeyFactory(tenant=tenant, status=ApiKey.Status.REVOKED)
    response = api.post(f"{KEYS_URL}{revoked.pk}/rotate/")

    assert response.status_code == 400
    assert "active" in response.json()["detail"]
    assert ApiKey.objects.for_tenant(tenant).count() == 2


def test_revoked_key_is_dead_immediately(api, tenant, api_client_for):
    victim = ApiKeyFactory(tenant=tenant)
    response = api.post(f"{KEYS_URL}{victim.pk}/revoke/")

    assert response.status_code == 200
    assert response.json()["status"] == "revoked"
    assert _client_with(victim.raw_key).get(KEYS_URL).status_code == 401
    assert api.post(f"{KEYS_URL}{victim.pk}/revoke/").status_code == 200  # twice is harmless


def test_key_past_its_expiry_is_refused_before_the_job_runs(tenant):
    expired = ApiKeyFactory(tenant=tenant, expires_at=timezone.now() - timedelta(seconds=1))
    assert expired.status == ApiKey.Status.ACTIVE
    assert _client_with(expired.raw_key).get(KEYS_URL).status_code == 401


def test_keys_expire_after_the_configured_age(api):
    with override_settings(API_KEY_MAX_AGE_DAYS=30):
        created = api.post(KEYS_URL, {"name": "Short-lived"}, format="json").json()
    expires_at = ApiKey.objects.get(pk=created["id"]).expires_at
    assert timedelta(days=29, hours=23) < expires_at - timezone.now() <= timedelta(days=30)


def test_lifecycle_job_records_expiry_and_ends_grace_periods_once(tenant):
    expired = ApiKeyFactory(tenant=tenant, expires_at=timezone.now() - timedelta(minutes=1))
    in_grace = ApiKeyFactory(tenant=tenant)
    api_key_rotate(api_key=in_grace)
    ApiKey.objects.filter(pk=in_grace.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    first = api_keys_lifecycle_run()
    second = api_keys_lifecycle_run()

    assert (first.expired, first.grace_ended) == (1, 1)
    assert (second.expired, second.grace_ended) == (0, 0)
    expired.refresh_from_db()
    in_grace.refresh_from_db()
    assert expired.status == in_grace.status == ApiKey.Status.EXPIRED


def test_lifecycle_job_warns_owners_once_and_never_mails_the_secret(tenant):
    MembershipFactory(tenant=tenant, user=UserFactory(email="owner@example.com"), role=Role.OWNER)
    MembershipFactory(tenant=tenant, user=UserFactory(email="analyst@example.com"), role=Role.ANALYST)
    expiring = ApiKeyFactory(tenant=tenant, name="Billing sync", expires_at=timezone.now() + timedelta(days=3))
    ApiKeyFactory(tenant=tenant, expires_at=timezone.now() + timedelta(days=60))

    assert api_keys_lifecycle_run().notices_sent == 1
    assert api_keys_lifecycle_run().notices_sent == 0

    assert len(mail.outbox) == 1
    notice = mail.outbox[0]
    assert notice.to == ["owner@example.com"]
    assert "Billing sync" in notice.subject
    assert expiring.prefix in notice.body
    assert expiring.raw_key not in notice.body
    assert expiring.raw_key.split("_", 2)[2] not in notice.body


def test_failed_notice_is_retried_by_the_next_run(tenant, monkeypatch):
    MembershipFactory(tenant=tenant, role=Role.OWNER)
    ApiKeyFactory(tenant=tenant, expires_at=timezone.now() + timedelta(days=3))

    def broken_mail(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("tenants.services.send_mail", broken_mail)
    assert api_keys_lifecycle_run().notices_sent == 0
    monkeypatch.undo()
    assert api_keys_lifecycle_run().notices_sent == 1


def test_last_used_is_recorded_without_a_write_on_every_request(api, django_assert_num_queries):
    api.get(KEYS_URL)
    api.api_key.refresh_from_db()
    first_use = api.api_key.last_used_at
    assert first_use is not None

    # 1 key lookup (tenant joined), 1 page of keys: no UPDATE while last_used_at is fresh.
    with django_assert_num_queries(2):
        api.get(KEYS_URL)
    api.api_key.refresh_from_db()
    assert api.api_key.last_used_at == first_use


def test_rotate_and_revoke_unknown_key_is_404(api):
    assert api.post(f"{KEYS_URL}01234567-89ab-7def-8123-456789abcdef/rotate/").status_code == 404
    assert api.post(f"{KEYS_URL}not-a-uuid/revoke/").status_code == 404


def test_create_without_a_name_is_a_field_error(api):
    response = api.post(KEYS_URL, {}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "name" in response.json()["fields"]
