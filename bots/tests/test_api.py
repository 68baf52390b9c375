import pytest

from bots.models import Bot, Rule
from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from groups.models import Group

pytestmark = pytest.mark.django_db


def test_a_bot_registered_manually_gets_a_callback_url_and_hides_its_groupme_id(api, settings):
    settings.PUBLIC_BASE_URL = "https://botyard.example.com"
    response = api.post(
        "/api/v1/bots/", {"name": "Helper", "groupme_group_id": 1001, "groupme_bot_id": "abc123"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["callback_url"].startswith("https://botyard.example.com/hooks/groupme/")
    assert "groupme_bot_id" not in body
    assert body["command_prefix"] == "!"
    assert body["loop_breaker"] == {"open_until": None, "is_open": False, "trips": 0, "last_reason": ""}
    bot = Bot.objects.get(pk=body["id"])
    assert bot.groupme_bot_id == "abc123"
    assert Group.objects.get().groupme_group_id == "1001"
    token = body["callback_url"].rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 32  # at least 128 random bits, URL-safe


def test_secrets_are_encrypted_at_rest(api):
    from django.db import connection

    created = api.post(
        "/api/v1/bots/", {"name": "H", "groupme_group_id": "1", "groupme_bot_id": "plain-bot-id"}, format="json"
    ).json()
    with connection.cursor() as cursor:
        cursor.execute("SELECT groupme_bot_id, callback_token FROM bots_bot")
        stored_bot_id, stored_token = cursor.fetchone()
    assert "plain-bot-id" not in stored_bot_id
    assert stored_token not in created["callback_url"]


def test_bot_create_without_groupme_id_or_connection_is_a_field_error(api):
    response = api.post("/api/v1/bots/", {"name": "Helper", "groupme_group_id": "1001"}, format="json")

    assert response.status_code == 400
    assert "groupme_bot_id" in response.json()["fields"]
    assert not Bot.objects.exists()


def test_a_bot_can_be_paused_and_renamed_but_not_moved_to_another_group(api, tenant):
    bot = BotFactory(tenant=tenant)
    url = f"/api/v1/bots/{bot.pk}/"

    assert api.patch(url, {"is_active": False, "name": "Renamed"}, format="json").status_code == 200
    moved = api.patch(url, {"groupme_group_id": "other"}, format="json")

    bot.refresh_from_db()
    assert (bot.is_active, bot.name) == (False, "Renamed")
    assert moved.status_code == 400
    assert "groupme_group_id" in moved.json()["fields"]


def test_deleting_a_bot_hides_it_and_keeps_its_history(api, tenant):
    interaction = InteractionFactory(tenant=tenant)

    assert api.delete(f"/api/v1/bots/{interaction.bot_id}/").status_code == 204

    assert api.get(f"/api/v1/bots/{interaction.bot_id}/").status_code == 404
    assert api.get(f"/api/v1/interactions/{interaction.pk}/").status_code == 200


def test_bots_list_in_a_constant_number_of_queries(api, tenant, django_assert_num_queries):
    for _ in range(5):
        BotFactory(tenant=tenant)
    # key lookup, bots page with groups joined
    api.get("/api/v1/bots/")  # the key's first use records last_used_at; later requests do not write
    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/bots/").json()["results"]) == 5


def test_rules_are_created_validated_and_listed_in_priority_order(api, tenant):
    bot = BotFactory(tenant=tenant)
    url = f"/api/v1/bots/{bot.pk}/rules/"
    later = {"name": "Later", "kind": "keyword", "pattern": "pizza", "response": "🍕", "priority": 50}
    api.post(url, later, format="json")
    created = api.post(url, {"name": "First", "kind": "command", "pattern": "!Help", "response": "Hi {name}",
                             "intent": "support", "priority": 10}, format="json")  # fmt: skip

    assert created.status_code == 201
    assert created.json()["pattern"] == "help"  # prefix stripped, lower-cased
    assert [rule["name"] for rule in api.get(url).json()["results"]] == ["First", "Later"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"kind": "regex", "pattern": "(unclosed"}, "pattern"), ({"kind": "regex", "pattern": "(?<=x)y"}, "pattern"),
     ({"kind": "command", "pattern": "two words"}, "pattern"), ({"kind": "keyword", "pattern": " "}, "pattern"),
     ({"kind": "sorcery", "pattern": "x"}, "kind"), ({"kind": "command", "pattern": "x", "response": ""}, "response")],
)  # fmt: skip
def test_invalid_rules_are_400_with_the_reason_and_change_nothing(api, tenant, payload, field):
    bot = BotFactory(tenant=tenant)
    body = {"name": "R", "response": "ok", **payload}

    response = api.post(f"/api/v1/bots/{bot.pk}/rules/", body, format="json")

    assert response.status_code == 400
    assert response.json()["fields"][field]
    assert not Rule.objects.exists()


def test_a_rule_update_is_validated_like_a_create(api, tenant):
    rule = RuleFactory(tenant=tenant, kind="regex", pattern=r"\bhi\b")
    url = f"/api/v1/bots/{rule.bot_id}/rules/{rule.pk}/"

    assert api.patch(url, {"pattern": "(broken"}, format="json").status_code == 400
    assert api.patch(url, {"pattern": r"\bhello\b"}, format="json").status_code == 200
    rule.refresh_from_db()
    assert rule.pattern == r"\bhello\b"


def test_a_rule_cannot_be_reached_through_another_bot(api, tenant):
    rule = RuleFactory(tenant=tenant)
    other_bot = BotFactory(tenant=tenant)

    assert api.get(f"/api/v1/bots/{other_bot.pk}/rules/{rule.pk}/").status_code == 404


def test_interactions_filter_by_bot_intent_and_time(api, tenant):
    first = InteractionFactory(tenant=tenant, intent="deals")
    InteractionFactory(tenant=tenant, intent="help")
    since = first.occurred_at.isoformat()

    by_intent = api.get("/api/v1/interactions/", {"intent": "deals"}).json()["results"]
    by_bot = api.get("/api/v1/interactions/", {"bot": str(first.bot_id)}).json()["results"]
    by_time = api.get("/api/v1/interactions/", {"since": since}).json()["results"]
    bad = api.get("/api/v1/interactions/", {"since": "yesterday"})

    assert [row["id"] for row in by_intent] == [str(first.pk)]
    assert [row["id"] for row in by_bot] == [str(first.pk)]
    assert len(by_time) == 2
    assert bad.status_code == 400
    assert "since" in bad.json()["fields"]


def test_interactions_list_in_a_constant_number_of_queries(api, tenant, django_assert_num_queries):
    for _ in range(6):
        InteractionFactory(tenant=tenant)
    # key lookup, interactions page (rule joined), reply parts prefetched
    api.get("/api/v1/interactions/")  # the key's first use records last_used_at
    with django_assert_num_queries(3):
        rows = api.get("/api/v1/interactions/").json()["results"]
    assert len(rows) == 6
    assert {"sentiment", "reply_status", "response_time_ms", "reply_parts", "handled"} <= set(rows[0])


def test_a_second_bot_in_the_same_group_is_refused_until_the_first_is_deleted(api, tenant):
    first = api.post("/api/v1/bots/", {"name": "A", "groupme_group_id": "77", "groupme_bot_id": "a"}, format="json")
    second = {"name": "B", "groupme_group_id": "77", "groupme_bot_id": "b"}

    refused = api.post("/api/v1/bots/", second, format="json")
    api.delete(f"/api/v1/bots/{first.json()['id']}/")
    accepted = api.post("/api/v1/bots/", second, format="json")

    assert refused.status_code == 400
    assert "groupme_group_id" in refused.json()["fields"]
    assert accepted.status_code == 201


@pytest.mark.parametrize("value", ["maybe", "yes please"])
def test_a_boolean_filter_with_a_bad_value_is_a_400_not_ignored(api, value):
    response = api.get("/api/v1/interactions/", {"handled": value})
    assert response.status_code == 400
    assert "handled" in response.json()["fields"]


def test_boolean_filters_take_true_and_false(api, tenant):
    InteractionFactory(tenant=tenant, handled=False)
    assert len(api.get("/api/v1/interactions/", {"handled": "false"}).json()["results"]) == 1
    assert api.get("/api/v1/interactions/", {"handled": "true"}).json()["results"] == []
