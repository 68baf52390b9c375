"""The onboarding checklist: each step's state comes from the database, so it can be left and resumed."""

import pytest
from django.test import Client
from django.urls import reverse

from bots.fake_groupme import DEFAULT_TOKEN
from bots.models import Bot, Rule
from bots.tests.factories import BotFactory, GroupMeConnectionFactory, RuleFactory
from groups.tests.factories import GroupFactory
from tenants.models import ApiKey, Role
from tenants.selectors import api_key_get_for_authentication
from tenants.tests.factories import ApiKeyFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst_client(tenant):
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    return client


def url(name, tenant, **kwargs):
    return reverse(f"bots:{name}", kwargs={"tenant_slug": tenant.slug, **kwargs})


def step(page, step_id):
    """The HTML of one step of the checklist (an <li id=...> up to the next step)."""
    start = page.index(f'id="{step_id}"')
    end = page.find('<li class="step', start)
    return page[start : end if end != -1 else len(page)]


def test_a_new_tenant_sees_every_step_to_do_and_both_ways_to_add_a_bot(owner_client, tenant):
    page = owner_client.get(url("onboarding", tenant)).content.decode()

    assert page.count('<span class="badge">To do</span>') == 4
    first = step(page, "step-bot")
    assert f'action="{url("connect", tenant)}"' in first
    assert 'name="access_token"' in first
    assert f'action="{url("create-manual", tenant)}"' in first
    assert f'name="next" value="{url("onboarding", tenant)}"' in first
    assert "hx-trigger" not in page  # nothing to wait for without a bot


def test_once_groupme_is_connected_step_one_offers_the_accounts_groups(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    first = step(owner_client.get(url("onboarding", tenant)).content.decode(), "step-bot")

    assert f'action="{url("create-groupme", tenant)}"' in first
    assert "Anglers · 3 members" in first
    assert "Bakers · 3 members" in first


def test_groupme_down_does_not_break_the_checklist(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)
    fake_groupme.add_fault(path="/v3/groups", status=503, times=None)

    response = owner_client.get(url("onboarding", tenant))

    assert response.status_code == 200
    assert "GroupMe did not answer" in step(response.content.decode(), "step-bot")


def test_connecting_from_the_checklist_comes_back_to_it(owner_client, tenant, fake_groupme):
    response = owner_client.post(
        url("connect", tenant), {"access_token": DEFAULT_TOKEN, "next": url("onboarding", tenant)}
    )

    assert response.url == url("onboarding", tenant)


def test_picking_a_group_from_the_checklist_creates_the_bot_and_starts_waiting(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    response = owner_client.post(
        url("create-groupme", tenant),
        {"name": "Helper", "groupme_group_id": "1001", "next": url("onboarding", tenant)},
    )

    assert response.url == url("onboarding", tenant)
    bot = Bot.objects.get(tenant=tenant)
    page = owner_client.get(response.url).content.decode()
    assert '<span class="badge ok">Done</span>' in step(page, "step-bot")
    waiting = step(page, "step-first-message")
    assert "Waiting for the first message in Anglers" in waiting
    assert f'hx-get="{url("onboarding-first-message", tenant)}"' in waiting
    assert 'hx-trigger="every 2s"' in waiting
    assert bot.callback_url == fake_groupme.bots[0]["callback_url"]


def test_a_manual_bot_shows_its_callback_url_to_paste_in_step_one(owner_client, tenant):
    bot = BotFactory(tenant=tenant, name="Helper")

    first = step(owner_client.get(url("onboarding", tenant)).content.decode(), "step-bot")

    assert "Paste this callback URL" in first
    assert f'value="{bot.callback_url}"' in first
    assert 'data-copy="callback-url"' in first


def test_the_waiting_step_polls_until_the_first_message_then_shows_it_and_stops(owner_client, tenant, deliver):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    waiting = owner_client.get(url("onboarding-first-message", tenant)).content.decode()
    assert 'hx-trigger="every 2s"' in waiting
    assert "Waiting for the first message" in waiting

    deliver(bot, name="Ana", text="is this thing on?")

    arrived = owner_client.get(url("onboarding-first-message", tenant)).content.decode()
    assert "hx-trigger" not in arrived
    assert "Ana" in arrived
    assert "is this thing on?" in arrived
    assert '<span class="badge ok">Done</span>' in arrived


def test_while_nothing_arrived_htmx_polls_get_no_content_and_the_page_stays_as_it_is(owner_client, tenant, deliver):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    poll = url("onboarding-first-message", tenant)

    assert owner_client.get(poll, headers={"HX-Request": "true"}).status_code == 204

    deliver(bot, text="first!")
    arrived = owner_client.get(poll, headers={"HX-Request": "true"})
    assert arrived.status_code == 200
    assert "first!" in arrived.content.decode()


def test_the_waiting_step_is_a_fragment_not_a_page(owner_client, tenant):
    BotFactory(tenant=tenant)

    fragment = owner_client.get(url("onboarding-first-message", tenant)).content.decode()

    assert fragment.lstrip().startswith('<li class="step"')
    assert "<html" not in fragment


def test_step_three_adds_the_first_rule_and_comes_back(owner_client, tenant):
    bot = BotFactory(tenant=tenant, command_prefix="!")
    third = step(owner_client.get(url("onboarding", tenant)).content.decode(), "step-rule")
    assert f'action="{url("rule-create", tenant, bot_pk=bot.pk)}"' in third

    response = owner_client.post(
        url("rule-create", tenant, bot_pk=bot.pk),
        {"name": "Help", "kind": "command", "pattern": "help", "response": "Hi {name}!", "priority": "100",
         "is_active": "on", "next": url("onboarding", tenant)},
    )  # fmt: skip

    assert response.url == url("onboarding", tenant)
    assert Rule.objects.filter(bot=bot).count() == 1
    third = step(owner_client.get(response.url).content.decode(), "step-rule")
    assert '<span class="badge ok">Done</span>' in third
    assert "1 rule so far" in third


def test_a_bad_first_rule_is_a_400_with_the_error_and_the_way_back_to_the_checklist(owner_client, tenant):
    bot = BotFactory(tenant=tenant)

    response = owner_client.post(
        url("rule-create", tenant, bot_pk=bot.pk),
        {"name": "Fish", "kind": "regex", "pattern": "(fish", "response": "Hi", "priority": "100",
         "next": url("onboarding", tenant)},
    )  # fmt: skip

    assert response.status_code == 400
    page = response.content.decode()
    assert "Not a valid RE2 regular expression" in page
    assert f'name="next" value="{url("onboarding", tenant)}"' in page
    assert not Rule.objects.exists()


def test_step_three_previews_a_message_without_htmx(owner_client, tenant):
    bot = BotFactory(tenant=tenant)
    RuleFactory(tenant=tenant, bot=bot, name="Help", pattern="help", response="Hi {name}!")

    page = owner_client.get(url("onboarding", tenant), {"message": "!help"}).content.decode()

    assert "Rule <strong>Help</strong> matches" in page
    assert "Hi Sam!" in page
    assert f'hx-get="{url("preview", tenant, pk=bot.pk)}"' in page


def test_step_four_creates_a_key_shown_once_with_a_curl_example(owner_client, tenant, settings):
    response = owner_client.post(url("onboarding-api-key", tenant), {"name": "Zapier"})

    assert response.status_code == 200
    api_key = ApiKey.objects.get(tenant=tenant)
    assert api_key.name == "Zapier"
    fourth = step(response.content.decode(), "step-api-key")
    raw_key = fourth.split('id="api-key" type="text" readonly value="')[1].split('"')[0]
    assert api_key_get_for_authentication(raw_key=raw_key) == api_key
    assert f'curl -H "Authorization: Api-Key {raw_key}" {settings.PUBLIC_BASE_URL}/api/v1/bots/' in fourth
    assert 'data-copy="api-key"' in fourth
    # Shown once: the checklist, visited again, knows the key exists but not its secret.
    again = step(owner_client.get(url("onboarding", tenant)).content.decode(), "step-api-key")
    assert raw_key not in again
    assert '<span class="badge ok">Done</span>' in again


def test_a_key_without_a_name_is_a_400_and_none_is_created(owner_client, tenant):
    response = owner_client.post(url("onboarding-api-key", tenant), {"name": ""})

    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_step_four_is_a_post_only_action(owner_client, tenant):
    assert owner_client.get(url("onboarding-api-key", tenant)).status_code == 405


def test_analysts_see_the_checklist_but_cannot_create_keys_or_bots(analyst_client, tenant):
    page = analyst_client.get(url("onboarding", tenant)).content.decode()
    assert 'name="access_token"' not in page
    assert url("onboarding-api-key", tenant) not in page

    assert analyst_client.post(url("onboarding-api-key", tenant), {"name": "Mine"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_the_checklist_resumes_from_the_database(owner_client, tenant, deliver):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    deliver(bot, text="hello")
    RuleFactory(tenant=tenant, bot=bot)
    ApiKeyFactory(tenant=tenant)

    page = owner_client.get(url("onboarding", tenant)).content.decode()

    assert page.count('<span class="badge ok">Done</span>') == 4
    assert "All set." in page
    assert "hx-trigger" not in page


def test_a_deleted_bot_does_not_count_as_step_one(owner_client, tenant):
    from django.utils import timezone

    BotFactory(tenant=tenant, deleted_at=timezone.now(), is_active=False)

    page = owner_client.get(url("onboarding", tenant)).content.decode()

    assert '<span class="badge">To do</span>' in step(page, "step-bot")


def test_the_checklist_answers_in_a_bounded_number_of_queries(
    owner_client, tenant, deliver, django_assert_max_num_queries
):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    for number in range(30):
        deliver(bot, text=f"message {number}")
    RuleFactory.create_batch(30, tenant=tenant, bot=bot)

    # session, user, membership, memberships; the bot, connection, first message, rules, keys; link choices
    with django_assert_max_num_queries(10):
        assert owner_client.get(url("onboarding", tenant)).status_code == 200
