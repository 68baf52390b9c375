"""Connecting a GroupMe account and creating or destroying bots there, against the fake GroupMe."""

import pytest
from django.db import connection

from bots.fake_groupme import DEFAULT_TOKEN
from bots.models import Bot, GroupMeConnection
from bots.tests.factories import GroupMeConnectionFactory

pytestmark = pytest.mark.django_db

CONNECTION_URL = "/api/v1/groupme/connection/"


def test_connecting_a_token_groupme_accepts_stores_it_encrypted(api, fake_groupme):
    response = api.put(CONNECTION_URL, {"access_token": DEFAULT_TOKEN}, format="json")

    assert response.status_code == 200
    assert response.json()["connected"] is True
    assert "access_token" not in response.json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM bots_groupmeconnection")
        assert DEFAULT_TOKEN not in cursor.fetchone()[0]
    assert GroupMeConnection.objects.get().access_token == DEFAULT_TOKEN


def test_a_token_groupme_refuses_is_a_400_and_nothing_is_stored(api, fake_groupme):
    response = api.put(CONNECTION_URL, {"access_token": "not-a-real-token"}, format="json")

    assert response.status_code == 400
    assert "access_token" in response.json()["fields"]
    assert not GroupMeConnection.objects.exists()


def test_groupme_down_while_connecting_is_a_503_and_nothing_is_stored(api, fake_groupme):
    fake_groupme.add_fault(path="/v3/groups", status=502, times=None)

    response = api.put(CONNECTION_URL, {"access_token": DEFAULT_TOKEN}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "groupme_unavailable"
    assert not GroupMeConnection.objects.exists()


def test_the_connected_accounts_groups_are_listed(api, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    groups = api.get("/api/v1/groupme/groups/").json()["results"]

    assert {(group["group_id"], group["name"], group["member_count"]) for group in groups} == {
        ("1001", "Anglers", 3),
        ("1002", "Bakers", 3),
    }


def test_a_bot_is_created_at_groupme_with_botyards_callback_url_and_destroyed_with_it(api, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    created = api.post("/api/v1/bots/", {"name": "Helper", "groupme_group_id": "1002"}, format="json")

    assert created.status_code == 201
    assert created.json()["provisioned"] is True
    [at_groupme] = fake_groupme.bots
    assert at_groupme["callback_url"] == created.json()["callback_url"]
    assert at_groupme["group_id"] == "1002"
    assert Bot.objects.get().groupme_bot_id == at_groupme["bot_id"]

    assert api.delete(f"/api/v1/bots/{created.json()['id']}/").status_code == 204
    assert fake_groupme.bots == []


def test_creating_a_bot_in_a_group_the_account_is_not_in_is_a_400(api, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    response = api.post("/api/v1/bots/", {"name": "Helper", "groupme_group_id": "9999"}, format="json")

    assert response.status_code == 400
    assert "groupme_group_id" in response.json()["fields"]
    assert not Bot.objects.exists()


def test_groupme_connection_is_per_tenant(tenant, other_tenant, api_client_for, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)
    intruder = api_client_for(other_tenant)

    assert intruder.get(CONNECTION_URL).json()["connected"] is False
    assert intruder.get("/api/v1/groupme/groups/").status_code == 400
    assert intruder.delete(CONNECTION_URL).status_code == 204
    assert GroupMeConnection.objects.for_tenant(tenant).exists()
    assert api_client_for(tenant).get(CONNECTION_URL).json()["connected"] is True
