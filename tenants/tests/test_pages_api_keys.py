"""The API keys page: list with warnings, create (secret shown once), roll with a grace period, revoke."""

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django.utils.html import escape

from tenants.keys import api_key_hash
from tenants.models import ApiKey, Role
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

KEY_IN_PAGE = re.compile(r'id="new-api-key" value="(byd_[0-9a-f]{12}_[A-Za-z0-9_-]{40,})"')


def _url(tenant, suffix=""):
    return f"/t/{tenant.slug}/api-keys/{suffix}"


def _client_as(client, tenant, role):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=role).user)
    return client


def _authenticates(client, raw_key):
    return client.get("/api/v1/bots/", HTTP_AUTHORIZATION=f"Api-Key {raw_key}").status_code == 200


def _shown_key(response):
    match = KEY_IN_PAGE.search(response.content.decode())
    assert match, "the page does not show a new key"
    return match.group(1)


# --- The list ---------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_key_with_its_dates_but_never_a_secret(owner_client, tenant, other_tenant):
    used = timezone.now() - timedelta(hours=2)
    key = ApiKeyFactory(tenant=tenant, name="CRM sync", last_used_at=used)
    theirs = ApiKeyFactory(tenant=other_tenant, name="Their key")

    page = owner_client.get(_url(tenant)).content.decode()

    assert "CRM sync" in page
    assert f"{key.prefix}_…" in page
    assert "Active" in page
    assert used.astimezone(tenant.time_zone).strftime("%Y-%m-%d %H:%M") in page  # in the tenant's time zone
    assert key.raw_key not in page
    assert key.key_hash not in page
    assert "Their key" not in page
    assert theirs.prefix not in page


def test_a_tenant_without_keys_is_told_how_to_start(owner_client, tenant):
    page = owner_client.get(_url(tenant)).content.decode()

    assert "No API keys yet" in page
    assert "Create key" in page


def test_a_key_about_to_expire_is_flagged_and_counted(owner_client, tenant, settings):
    settings.API_KEY_EXPIRY_NOTICE_DAYS = 7
    ApiKeyFactory(tenant=tenant, name="Soon", expires_at=timezone.now() + timedelta(days=3, hours=1))
    ApiKeyFactory(tenant=tenant, name="Later", expires_at=timezone.now() + timedelta(days=60))

    page = owner_client.get(_url(tenant)).content.decode()

    assert "1 key expires within 7 days" in page
    assert page.count("expires in 3") == 1  # only the key inside the notice period carries the warning


def test_a_rolled_key_shows_when_its_grace_period_ends_and_its_replacement(owner_client, tenant, settings):
    settings.API_KEY_ROTATION_GRACE_HOURS = 24
    old = ApiKeyFactory(tenant=tenant, name="Billing")
    owner_client.post(_url(tenant, f"{old.pk}/roll/"))
    old.refresh_from_db()

    page = owner_client.get(_url(tenant)).content.decode()

    assert '<span class="badge warn">Rolled</span>' in page
    assert "Grace period ends" in page
    assert old.expires_at.astimezone(tenant.time_zone).strftime("%Y-%m-%d %H:%M") in page
    assert "23\xa0hours" in page  # time left
    assert f"Replaced by <code>{old.replaced_by.prefix}_…</code>" in page
    assert "1 rolled key still works during its grace period" in page


def test_analysts_see_the_keys_without_any_control(client, tenant):
    ApiKeyFactory(tenant=tenant, name="CRM sync")

    page = _client_as(client, tenant, Role.ANALYST).get(_url(tenant)).content.decode()

    assert "CRM sync" in page
    assert "Create key" not in page
    assert "/roll/" not in page
    assert "/revoke/" not in page


@pytest.mark.parametrize("rows", [3, 30])
def test_the_list_answers_in_a_bounded_number_of_queries(client, tenant, rows, django_assert_max_num_queries):
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER).user
    for number in range(rows):
        key = ApiKeyFactory(tenant=tenant, name=f"Key {number}", created_by=owner)
        if number % 3 == 0:  # some rolled keys, whose replacements are shown
            key.replaced_by = ApiKeyFactory(tenant=tenant)
            key.status = ApiKey.Status.ROTATED
            key.save()
    client.force_login(owner)

    # session, user, membership, switcher memberships, count, page of keys (replacements joined), warnings
    with django_assert_max_num_queries(7):
        response = client.get(_url(tenant))
    assert response.status_code == 200


# --- Create: the secret is shown once ---------------------------------------------------------------------------------


def test_creating_a_key_shows_it_once_with_a_copy_button_and_a_curl_example(owner_client, tenant):
    response = owner_client.post(_url(tenant), {"name": "Zapier"})

    assert response.status_code == 200  # rendered in the POST's answer: never in a URL or a redirect
    raw_key = _shown_key(response)
    page = response.content.decode()
    assert 'data-copy="new-api-key"' in page
    assert f"Authorization: Api-Key {raw_key}" in page
    assert "only time the key is shown" in page
    assert "no-store" in response["Cache-Control"]
    api_key = ApiKey.objects.get(tenant=tenant)
    assert api_key.name == "Zapier"
    assert api_key.created_by.email == "alice@example.com"
    assert raw_key.startswith(api_key.prefix)
    assert _authenticates(owner_client, raw_key)


def test_a_created_key_is_stored_only_as_a_hash_and_never_shown_again(owner_client, tenant):
    response = owner_client.post(_url(tenant), {"name": "Zapier"})
    raw_key = _shown_key(response)

    assert raw_key not in owner_client.get(_url(tenant)).content.decode()
    api_key = ApiKey.objects.get(tenant=tenant)
    assert api_key.key_hash == api_key_hash(raw_key)
    assert all(raw_key not in str(value) for value in ApiKey.objects.values_list().get(pk=api_key.pk))
    for session in Session.objects.all():
        assert raw_key not in session.session_data
        assert raw_key not in str(session.get_decoded())
    assert all(raw_key not in cookie.value for cookie in response.cookies.values())


def test_a_key_without_a_name_is_refused_and_nothing_is_created(owner_client, tenant):
    response = owner_client.post(_url(tenant), {"name": "   "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_admins_create_keys_and_analysts_cannot(client, tenant):
    assert _client_as(client, tenant, Role.ADMIN).post(_url(tenant), {"name": "By admin"}).status_code == 200
    assert _client_as(client, tenant, Role.ANALYST).post(_url(tenant), {"name": "By analyst"}).status_code == 403
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["By admin"]


# --- Roll -------------------------------------------------------------------------------------------------------------


def test_rolling_shows_the_new_key_once_and_keeps_the_old_one_working_for_the_grace(owner_client, tenant, settings):
    settings.API_KEY_ROTATION_GRACE_HOURS = 24
    old = ApiKeyFactory(tenant=tenant, name="Billing")

    response = owner_client.post(_url(tenant, f"{old.pk}/roll/"))

    assert response.status_code == 200
    new_raw = _shown_key(response)
    old.refresh_from_db()
    assert old.status == ApiKey.Status.ROTATED
    assert old.replaced_by.key_hash == api_key_hash(new_raw)
    assert timedelta(hours=23, minutes=59) < old.expires_at - timezone.now() <= timedelta(hours=24)
    page = response.content.decode()
    assert f"The old key <code>{old.prefix}_…</code> keeps working until" in page
    assert old.expires_at.astimezone(tenant.time_zone).strftime("%Y-%m-%d %H:%M") in page
    assert "no-store" in response["Cache-Control"]
    assert _authenticates(owner_client, new_raw)
    assert _authenticates(owner_client, old.raw_key)


def test_a_key_that_is_no_longer_active_cannot_be_rolled(owner_client, tenant):
    revoked = ApiKeyFactory(tenant=tenant, name="Gone", status=ApiKey.Status.REVOKED)

    response = owner_client.post(_url(tenant, f"{revoked.pk}/roll/"))

    assert response.status_code == 400
    assert "Only an active key can be rotated; this one is revoked." in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_roll_and_revoke_answer_get_with_405(owner_client, tenant):
    key = ApiKeyFactory(tenant=tenant)

    assert owner_client.get(_url(tenant, f"{key.pk}/roll/")).status_code == 405
    assert owner_client.get(_url(tenant, f"{key.pk}/revoke/")).status_code == 405
    assert ApiKey.objects.get().status == ApiKey.Status.ACTIVE


def test_analysts_cannot_roll_or_revoke(client, tenant):
    key = ApiKeyFactory(tenant=tenant)
    analyst = _client_as(client, tenant, Role.ANALYST)

    assert analyst.post(_url(tenant, f"{key.pk}/roll/")).status_code == 403
    assert analyst.post(_url(tenant, f"{key.pk}/revoke/")).status_code == 403
    key.refresh_from_db()
    assert (key.status, ApiKey.objects.count()) == (ApiKey.Status.ACTIVE, 1)


def test_another_tenants_key_cannot_be_rolled_or_revoked_from_here(owner_client, tenant, other_tenant):
    theirs = ApiKeyFactory(tenant=other_tenant)

    for action in ("roll", "revoke"):
        for method in ("get", "post"):
            response = getattr(owner_client, method)(_url(tenant, f"{theirs.pk}/{action}/"))
            assert response.status_code == 404, f"{method} {action}"
    theirs.refresh_from_db()
    assert theirs.status == ApiKey.Status.ACTIVE
    assert ApiKey.objects.count() == 1


# --- Revoke -----------------------------------------------------------------------------------------------------------


def test_revoking_kills_the_key_at_once_and_says_so(owner_client, tenant):
    key = ApiKeyFactory(tenant=tenant, name="Leaked")
    assert _authenticates(owner_client, key.raw_key)

    response = owner_client.post(_url(tenant, f"{key.pk}/revoke/"), follow=True)

    key.refresh_from_db()
    assert key.status == ApiKey.Status.REVOKED
    assert not _authenticates(owner_client, key.raw_key)
    page = response.content.decode()
    assert escape("Revoked “Leaked”") in page
    assert "Revoked" in page


def test_the_revoke_button_asks_for_confirmation_first(owner_client, tenant):
    key = ApiKeyFactory(tenant=tenant, name="Leaked")

    page = owner_client.get(_url(tenant)).content.decode()

    form = re.search(rf'<form[^>]*action="/t/{tenant.slug}/api-keys/{key.pk}/revoke/"[^>]*>', page, re.S)
    assert form
    assert "data-confirm=" in form.group(0)


def test_the_expiry_notice_e_mail_links_to_this_page(tenant, mailoutbox, settings):
    from tenants.services import api_keys_lifecycle_run

    MembershipFactory(tenant=tenant, role=Role.OWNER)
    ApiKeyFactory(tenant=tenant, expires_at=timezone.now() + timedelta(days=2))

    api_keys_lifecycle_run()

    [mail] = mailoutbox
    assert f"{settings.PUBLIC_BASE_URL}/t/{tenant.slug}/api-keys/" in mail.body
