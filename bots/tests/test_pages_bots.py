"""The bots pages: list, bot page (settings, pause, loop breaker, delete), the rules editor, the "try a message"
preview, and creating bots through a GroupMe connection or by hand."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bots.fake_groupme import DEFAULT_TOKEN
from bots.models import Bot, GroupMeConnection, Rule
from bots.tests.factories import BotFactory, GroupMeConnectionFactory, RuleFactory
from groups.models import Group, Message
from groups.tests.factories import GroupFactory
from monetization.tests.factories import LinkFactory
from tenants.models import Role, Tenant
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def analyst_client(tenant):
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    return client


def url(name, tenant, **kwargs):
    return reverse(f"bots:{name}", kwargs={"tenant_slug": tenant.slug, **kwargs})


def bot_url(name, bot, **kwargs):
    return url(name, bot.tenant, pk=bot.pk, **kwargs)


def rule_url(name, rule):
    return url(name, rule.tenant, bot_pk=rule.bot_id, pk=rule.pk)


def queries_to_render(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def writes_in(captured):
    return [q["sql"] for q in captured if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


# --- Bots list -------------------------------------------------------------------------------------------------------


def test_the_list_shows_each_bot_with_its_group_status_last_message_and_rules_count(owner_client, tenant):
    active = BotFactory(tenant=tenant, name="Helper", group=GroupFactory(tenant=tenant, name="Anglers"))
    Group.objects.filter(pk=active.group_id).update(last_message_at=timezone.now())
    RuleFactory.create_batch(3, tenant=tenant, bot=active)
    BotFactory(tenant=tenant, name="Sleepy", is_active=False)
    BotFactory(tenant=tenant, name="Loopy", breaker_open_until=timezone.now() + timedelta(minutes=5))

    page = owner_client.get(url("list", tenant)).content.decode()

    assert "Helper" in page
    assert "Anglers" in page
    assert "Paused" in page
    assert "Loop breaker open" in page
    assert "Active" in page
    assert '<td class="num">3</td>' in page
    assert "No messages yet" in page  # Sleepy and Loopy never heard anything
    assert bot_url("detail", active) in page


def test_the_list_leaves_out_deleted_bots_and_other_tenants_bots(owner_client, tenant, other_tenant):
    BotFactory(tenant=tenant, name="Gone", deleted_at=timezone.now(), is_active=False)
    BotFactory(tenant=other_tenant, name="Theirs")

    page = owner_client.get(url("list", tenant)).content.decode()

    assert "Gone" not in page
    assert "Theirs" not in page
    assert "No bots yet" in page
    assert url("create", tenant) in page
    assert url("onboarding", tenant) in page


def test_analysts_see_the_list_without_the_create_buttons(analyst_client, tenant):
    BotFactory(tenant=tenant, name="Helper")

    page = analyst_client.get(url("list", tenant)).content.decode()

    assert "Helper" in page
    assert url("create-manual", tenant) not in page


def test_the_list_answers_in_the_same_number_of_queries_for_3_and_30_bots(
    owner_client, tenant, django_assert_max_num_queries
):
    for _ in range(3):
        RuleFactory(tenant=tenant, bot=BotFactory(tenant=tenant))
    few = queries_to_render(owner_client, url("list", tenant))
    for _ in range(27):
        RuleFactory(tenant=tenant, bot=BotFactory(tenant=tenant))

    # session, user, membership, the switcher's memberships, the paginator's count, the page of bots
    with django_assert_max_num_queries(6):
        many = queries_to_render(owner_client, url("list", tenant))
    assert many == few


# --- One bot ---------------------------------------------------------------------------------------------------------


def test_the_bot_page_shows_the_callback_url_settings_and_rules_by_priority(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, name="Second", priority=20)
    RuleFactory(tenant=bot.tenant, bot=bot, name="First", priority=10)

    page = owner_client.get(bot_url("detail", bot)).content.decode()

    assert f'value="{bot.callback_url}"' in page
    assert 'data-copy="callback-url"' in page
    assert page.index("First") < page.index("Second")
    assert 'name="fallback_text"' in page
    assert 'name="optout_command"' in page
    assert f"?bot={bot.pk}" in page  # drill-down to the bot's interactions


def test_the_bot_page_answers_in_the_same_number_of_queries_for_3_and_30_rules(
    owner_client, bot, django_assert_max_num_queries
):
    link = LinkFactory(tenant=bot.tenant)
    RuleFactory.create_batch(3, tenant=bot.tenant, bot=bot, link=link)
    few = queries_to_render(owner_client, bot_url("detail", bot))
    RuleFactory.create_batch(27, tenant=bot.tenant, bot=bot, link=link)

    # session, user, membership, memberships, the bot, its rules with their links, the link choices
    with django_assert_max_num_queries(7):
        many = queries_to_render(owner_client, bot_url("detail", bot))
    assert many == few


def test_a_deleted_bot_has_no_page(owner_client, bot):
    Bot.objects.filter(pk=bot.pk).update(deleted_at=timezone.now())

    assert owner_client.get(bot_url("detail", bot)).status_code == 404


def test_saving_the_settings_updates_the_bot(owner_client, bot):
    response = owner_client.post(
        bot_url("detail", bot),
        {"name": "Skipper", "command_prefix": "/", "fallback_text": "Try /help, {name}.",
         "optout_command": "Stop", "optin_command": "start"},
    )  # fmt: skip

    assert response.status_code == 302
    bot.refresh_from_db()
    assert (bot.name, bot.command_prefix, bot.fallback_text) == ("Skipper", "/", "Try /help, {name}.")
    assert bot.optout_command == "stop"  # the service lower-cases commands


def test_bad_settings_are_a_400_with_the_errors_and_change_nothing(owner_client, bot):
    response = owner_client.post(
        bot_url("detail", bot),
        {"name": "Skipper", "command_prefix": "!", "fallback_text": "", "optout_command": "opt out",
         "optin_command": "optin"},
    )  # fmt: skip

    assert response.status_code == 400
    assert "One word, without the prefix." in response.content.decode()
    bot.refresh_from_db()
    assert (bot.name, bot.optout_command) == ("Helper", "optout")


def test_analysts_cannot_change_the_settings(analyst_client, bot):
    response = analyst_client.post(
        bot_url("detail", bot),
        {"name": "Hijacked", "command_prefix": "!", "optout_command": "optout", "optin_command": "optin"},
    )

    assert response.status_code == 403
    bot.refresh_from_db()
    assert bot.name == "Helper"


def test_analysts_see_the_bot_page_without_write_controls(analyst_client, bot):
    page = analyst_client.get(bot_url("detail", bot)).content.decode()

    assert bot.name in page
    assert bot_url("pause", bot) not in page
    assert bot_url("delete", bot) not in page
    assert 'name="fallback_text"' not in page
    assert 'name="pattern"' not in page


def test_pausing_and_resuming_the_bot(owner_client, bot):
    assert owner_client.post(bot_url("pause", bot)).status_code == 302
    bot.refresh_from_db()
    assert bot.is_active is False
    assert "Resume" in owner_client.get(bot_url("detail", bot)).content.decode()

    assert owner_client.post(bot_url("resume", bot)).status_code == 302
    bot.refresh_from_db()
    assert bot.is_active is True


def test_pausing_is_a_post_only_action(owner_client, bot):
    assert owner_client.get(bot_url("pause", bot)).status_code == 405
    bot.refresh_from_db()
    assert bot.is_active is True


def test_analysts_cannot_pause_the_bot(analyst_client, bot):
    assert analyst_client.post(bot_url("pause", bot)).status_code == 403
    bot.refresh_from_db()
    assert bot.is_active is True


def test_resetting_an_open_loop_breaker(owner_client, bot):
    Bot.objects.filter(pk=bot.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5), breaker_trips=1)
    assert "Reset loop breaker" in owner_client.get(bot_url("detail", bot)).content.decode()

    assert owner_client.post(bot_url("reset-breaker", bot)).status_code == 302

    bot.refresh_from_db()
    assert bot.is_breaker_open is False


def test_analysts_cannot_reset_the_loop_breaker(analyst_client, bot):
    Bot.objects.filter(pk=bot.pk).update(breaker_open_until=timezone.now() + timedelta(minutes=5))

    assert analyst_client.post(bot_url("reset-breaker", bot)).status_code == 403
    bot.refresh_from_db()
    assert bot.is_breaker_open is True


def test_deleting_asks_first_then_hides_the_bot_and_keeps_its_history(owner_client, bot):
    confirmation = owner_client.get(bot_url("delete", bot))
    assert confirmation.status_code == 200
    assert "stay in your figures" in confirmation.content.decode()

    response = owner_client.post(bot_url("delete", bot))

    assert response.status_code == 302
    assert response.url == url("list", bot.tenant)
    bot.refresh_from_db()
    assert bot.deleted_at is not None
    assert bot.is_active is False


def test_deleting_a_bot_botyard_created_destroys_it_at_groupme(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)
    owner_client.post(url("create-groupme", tenant), {"name": "Helper", "groupme_group_id": "1001"})
    bot = Bot.objects.get(tenant=tenant)
    assert [b["bot_id"] for b in fake_groupme.bots] == [bot.groupme_bot_id]

    owner_client.post(bot_url("delete", bot))

    assert fake_groupme.bots == []
    assert fake_groupme.request_counts()["/v3/bots/destroy"] == {200: 1}


def test_deleting_while_groupme_is_down_is_a_503_and_keeps_the_bot(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)
    owner_client.post(url("create-groupme", tenant), {"name": "Helper", "groupme_group_id": "1001"})
    bot = Bot.objects.get(tenant=tenant)
    fake_groupme.add_fault(path="/v3/bots/destroy", status=502, times=None)

    response = owner_client.post(bot_url("delete", bot))

    assert response.status_code == 503
    assert "GroupMe did not answer" in response.content.decode()
    bot.refresh_from_db()
    assert bot.deleted_at is None


def test_analysts_cannot_delete_a_bot(analyst_client, bot):
    assert analyst_client.post(bot_url("delete", bot)).status_code == 403
    bot.refresh_from_db()
    assert bot.deleted_at is None


# --- Rules -----------------------------------------------------------------------------------------------------------


def rule_data(**overrides):
    data = {"name": "Help", "kind": "command", "pattern": "help", "response": "Hi {name}, try !bait.",
            "intent": "help", "priority": "100", "link": "", "is_active": "on"}  # fmt: skip
    data.update(overrides)
    return data


def test_adding_a_rule_saves_it_and_goes_back_to_the_rules(owner_client, bot):
    response = owner_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data())

    assert response.status_code == 302
    assert response.url == bot_url("detail", bot) + "#rules"
    rule = Rule.objects.get(bot=bot)
    assert (rule.kind, rule.pattern, rule.intent, rule.is_active) == ("command", "help", "help", True)


def test_an_invalid_re2_regex_is_a_400_with_the_error_next_to_the_pattern(owner_client, bot):
    response = owner_client.post(
        url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(kind="regex", pattern="(?<=bait)fish")
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Not a valid RE2 regular expression" in page
    assert page.index("Not a valid RE2") > page.index('name="pattern"')  # inline, by its field
    assert not Rule.objects.exists()


def test_a_command_of_two_words_is_a_400(owner_client, bot):
    response = owner_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(pattern="two words"))

    assert response.status_code == 400
    assert "A command is one word" in response.content.decode()
    assert not Rule.objects.exists()


def test_with_htmx_adding_a_rule_answers_the_rules_section_with_the_new_rule(owner_client, bot):
    response = owner_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(), headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="rules"')
    assert "Rule “Help” added." in page
    assert "Hi {name}, try !bait." in page
    assert Rule.objects.filter(bot=bot).count() == 1


def test_with_htmx_an_invalid_regex_answers_the_rules_section_with_the_error_and_a_400(owner_client, bot):
    response = owner_client.post(
        url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(kind="regex", pattern="(unclosed"), headers=HTMX
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="rules"')
    assert "Not a valid RE2 regular expression" in page
    assert 'value="(unclosed"' in page  # what was typed stays in the form
    assert not Rule.objects.exists()


def test_a_rule_can_point_to_one_of_the_tenants_links(owner_client, bot):
    link = LinkFactory(tenant=bot.tenant, name="Kayak shop")

    owner_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(link=str(link.pk)))

    assert Rule.objects.get(bot=bot).link == link


def test_another_tenants_link_is_not_a_choice(owner_client, bot, other_tenant):
    theirs = LinkFactory(tenant=other_tenant, name="Their shop")
    assert "Their shop" not in owner_client.get(bot_url("detail", bot)).content.decode()

    response = owner_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data(link=str(theirs.pk)))

    assert response.status_code == 400
    assert not Rule.objects.exists()


def test_analysts_cannot_add_rules(analyst_client, bot):
    assert analyst_client.post(url("rule-create", bot.tenant, bot_pk=bot.pk), rule_data()).status_code == 403
    assert not Rule.objects.exists()


def test_editing_a_rule(owner_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot, name="Help", pattern="help")
    form = owner_client.get(rule_url("rule-edit", rule))
    assert form.status_code == 200
    assert 'value="help"' in form.content.decode()
    assert "Save rule" in form.content.decode()

    response = owner_client.post(rule_url("rule-edit", rule), rule_data(kind="keyword", pattern="bait", priority="5"))

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.kind, rule.pattern, rule.priority) == ("keyword", "bait", 5)


def test_editing_a_rule_into_an_invalid_regex_is_a_400_and_keeps_the_rule(owner_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot, kind="command", pattern="help")

    response = owner_client.post(rule_url("rule-edit", rule), rule_data(kind="regex", pattern="a{1,99999}"))

    assert response.status_code == 400
    assert "Not a valid RE2 regular expression" in response.content.decode()
    rule.refresh_from_db()
    assert (rule.kind, rule.pattern) == ("command", "help")


def test_switching_off_a_rule_by_leaving_active_unchecked(owner_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot)
    data = rule_data()
    del data["is_active"]  # an unchecked checkbox is not posted

    owner_client.post(rule_url("rule-edit", rule), data)

    rule.refresh_from_db()
    assert rule.is_active is False


def test_with_htmx_edit_opens_the_rule_in_the_editor_of_the_rules_section(owner_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot, name="Bait", pattern="bait")

    response = owner_client.get(rule_url("rule-edit", rule), headers=HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="rules"')
    assert "Edit “Bait”" in page
    assert f'hx-post="{rule_url("rule-edit", rule)}"' in page


def test_deleting_a_rule(owner_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot)

    response = owner_client.post(rule_url("rule-delete", rule))

    assert response.status_code == 302
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_analysts_cannot_edit_or_delete_rules(analyst_client, bot):
    rule = RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")

    assert analyst_client.post(rule_url("rule-edit", rule), rule_data(pattern="other")).status_code == 403
    assert analyst_client.post(rule_url("rule-delete", rule)).status_code == 403
    rule.refresh_from_db()
    assert rule.pattern == "help"


def test_a_rule_of_another_bot_is_not_found_under_this_bot(owner_client, bot):
    other_bot = BotFactory(tenant=bot.tenant)
    rule = RuleFactory(tenant=bot.tenant, bot=other_bot)

    wrong = url("rule-edit", bot.tenant, bot_pk=bot.pk, pk=rule.pk)

    assert owner_client.get(wrong).status_code == 404
    assert owner_client.post(wrong, rule_data()).status_code == 404


# --- Try a message ---------------------------------------------------------------------------------------------------


def preview(client, bot, message, **headers):
    return client.get(bot_url("preview", bot), {"message": message}, headers=headers or HTMX)


def test_the_preview_names_the_matching_rule_its_intent_and_the_reply_with_a_sample_name(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, name="Help", pattern="help", intent="support", response="Hi {name}!")

    response = preview(owner_client, bot, "!help please")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Rule <strong>Help</strong> matches" in page
    assert "support" in page
    assert '<pre class="reply" id="preview-reply">Hi Sam!</pre>' in page


def test_the_preview_shows_a_placeholder_short_url_for_the_rules_link(owner_client, bot, settings):
    link = LinkFactory(tenant=bot.tenant)
    RuleFactory(tenant=bot.tenant, bot=bot, kind="keyword", pattern="kayak", response="Deals: {link}", link=link)

    page = preview(owner_client, bot, "any kayak deals?").content.decode()

    assert f"Deals: {settings.PUBLIC_BASE_URL}/l/xxxxxxxx" in page


def test_the_preview_follows_priority_and_skips_inactive_rules(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, name="Off", kind="keyword", pattern="fish", priority=1, is_active=False)
    RuleFactory(tenant=bot.tenant, bot=bot, name="Late", kind="keyword", pattern="fish", priority=50)
    RuleFactory(tenant=bot.tenant, bot=bot, name="Early", kind="regex", pattern=r"fi+sh", priority=10)

    page = preview(owner_client, bot, "gone fishing? fish!").content.decode()

    assert "Rule <strong>Early</strong> matches" in page


def test_the_preview_of_an_unknown_command_shows_the_fallback_reply(owner_client, bot):
    Bot.objects.filter(pk=bot.pk).update(fallback_text="No idea, {name}.")
    bot.refresh_from_db()

    page = preview(owner_client, bot, "!nonsense").content.decode()

    assert "the fallback reply answers" in page
    assert "No idea, Sam." in page


def test_the_preview_of_an_unknown_command_with_an_empty_fallback_says_no_reply(owner_client, bot):
    Bot.objects.filter(pk=bot.pk).update(fallback_text="")

    page = preview(owner_client, bot, "!nonsense").content.decode()

    assert "No reply: the fallback reply is empty." in page


def test_the_preview_of_chatter_says_the_bot_stays_quiet(owner_client, bot):
    page = preview(owner_client, bot, "see you all at the lake").content.decode()

    assert "the bot stays quiet" in page
    assert "preview-reply" not in page


def test_the_preview_of_the_opt_out_command_says_what_it_does(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, kind="keyword", pattern="optout")  # the command still wins

    Tenant.objects.filter(pk=bot.tenant_id).update(optout_reply="Bye {name}! Send {optin} to come back.")
    bot.tenant.refresh_from_db()

    page = preview(owner_client, bot, "!optout").content.decode()

    assert "The opt-out command" in page
    assert '<pre class="reply" id="preview-reply">Bye Sam! Send !optin to come back.</pre>' in page


def test_the_preview_of_the_opt_in_command_shows_the_tenants_wording(owner_client, bot):
    Tenant.objects.filter(pk=bot.tenant_id).update(optin_reply="Welcome back, {name}. ({optout} to leave)")

    page = preview(owner_client, bot, "!optin").content.decode()

    assert "The opt-in command" in page
    assert "Welcome back, Sam. (!optout to leave)" in page


def test_the_preview_of_a_paused_bot_says_nothing_would_be_sent(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")
    Bot.objects.filter(pk=bot.pk).update(is_active=False)

    page = preview(owner_client, bot, "!help").content.decode()

    assert "The bot is paused" in page


def test_the_preview_sends_nothing_and_writes_nothing(owner_client, bot, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")

    with CaptureQueriesContext(connection) as captured:
        response = preview(owner_client, bot, "!help")

    assert response.status_code == 200
    assert writes_in(captured) == []
    assert fake_groupme.posts == []
    assert not Message.objects.exists()


def test_an_empty_preview_message_is_a_400(owner_client, bot):
    response = preview(owner_client, bot, "")

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_without_htmx_the_preview_shows_on_the_bot_page(owner_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, name="Help", pattern="help")

    response = owner_client.get(bot_url("preview", bot), {"message": "!help"})
    assert response.status_code == 302
    page = owner_client.get(response.url).content.decode()

    assert "Rule <strong>Help</strong> matches" in page
    assert 'value="!help"' in page


def test_analysts_may_try_messages(analyst_client, bot):
    RuleFactory(tenant=bot.tenant, bot=bot, name="Help", pattern="help")

    assert "Rule <strong>Help</strong> matches" in preview(analyst_client, bot, "!help").content.decode()


# --- Creating a bot --------------------------------------------------------------------------------------------------


def test_the_create_page_offers_both_ways(owner_client, tenant):
    page = owner_client.get(url("create", tenant)).content.decode()

    assert 'name="access_token"' in page
    assert 'name="groupme_bot_id"' in page


def test_connecting_a_token_groupme_accepts_goes_on_to_pick_a_group(owner_client, tenant, fake_groupme):
    response = owner_client.post(url("connect", tenant), {"access_token": DEFAULT_TOKEN})

    assert response.status_code == 302
    assert response.url == url("create-groupme", tenant)
    assert GroupMeConnection.objects.get(tenant=tenant).access_token == DEFAULT_TOKEN


@pytest.mark.parametrize("token", ["not-a-token", "tökén-with-ümlauts", "line\nbreak"])
def test_a_token_groupme_refuses_is_a_400_and_nothing_is_stored(owner_client, tenant, fake_groupme, token):
    response = owner_client.post(url("connect", tenant), {"access_token": token})

    assert response.status_code == 400
    assert "GroupMe refused this token." in response.content.decode()
    assert not GroupMeConnection.objects.exists()


def test_groupme_down_while_connecting_is_a_503(owner_client, tenant, fake_groupme):
    fake_groupme.add_fault(path="/v3/groups", status=502, times=None)

    response = owner_client.post(url("connect", tenant), {"access_token": DEFAULT_TOKEN})

    assert response.status_code == 503
    assert not GroupMeConnection.objects.exists()


def test_picking_a_group_lists_the_accounts_groups(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    page = owner_client.get(url("create-groupme", tenant)).content.decode()

    assert "Anglers · 3 members" in page
    assert "Bakers · 3 members" in page


def test_picking_a_group_without_a_connection_sends_you_to_connect(owner_client, tenant):
    response = owner_client.get(url("create-groupme", tenant))

    assert response.status_code == 302
    assert response.url == url("connect", tenant)


def test_creating_a_bot_in_a_picked_group_creates_it_at_groupme(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    response = owner_client.post(url("create-groupme", tenant), {"name": "Helper", "groupme_group_id": "1002"})

    bot = Bot.objects.get(tenant=tenant)
    assert response.status_code == 302
    assert response.url == bot_url("detail", bot)
    assert bot.provisioned_at is not None
    assert bot.group.name == "Bakers"
    [at_groupme] = fake_groupme.bots
    assert at_groupme["group_id"] == "1002"
    assert at_groupme["callback_url"] == bot.callback_url
    assert at_groupme["bot_id"] == bot.groupme_bot_id


def test_a_second_bot_in_the_same_group_is_a_400_and_nothing_is_created(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)
    BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))

    response = owner_client.post(url("create-groupme", tenant), {"name": "Twin", "groupme_group_id": "1001"})

    assert response.status_code == 400
    assert "You already have a bot in this group" in response.content.decode()
    assert Bot.objects.filter(tenant=tenant).count() == 1
    assert fake_groupme.bots == []


def test_a_group_the_account_is_not_in_is_a_400(owner_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token=DEFAULT_TOKEN)

    response = owner_client.post(url("create-groupme", tenant), {"name": "Spy", "groupme_group_id": "999"})

    assert response.status_code == 400
    assert not Bot.objects.exists()


def test_adding_a_bot_manually_shows_its_callback_url_next(owner_client, tenant):
    response = owner_client.post(
        url("create-manual", tenant), {"name": "Helper", "groupme_group_id": "4242", "groupme_bot_id": "abc123"}
    )

    bot = Bot.objects.get(tenant=tenant)
    assert response.status_code == 302
    assert response.url == bot_url("detail", bot)
    assert bot.provisioned_at is None
    assert bot.groupme_bot_id == "abc123"
    page = owner_client.get(response.url).content.decode()
    assert "paste its callback URL" in page
    assert bot.callback_url in page


def test_a_manual_bot_without_its_ids_is_a_400(owner_client, tenant):
    response = owner_client.post(url("create-manual", tenant), {"name": "Helper", "groupme_group_id": ""})

    assert response.status_code == 400
    assert response.content.decode().count("This field is required.") == 2
    assert not Bot.objects.exists()
    assert not Group.objects.exists()


def test_a_manual_bot_in_a_group_that_has_one_is_a_400(owner_client, tenant):
    BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="4242"))

    response = owner_client.post(
        url("create-manual", tenant), {"name": "Twin", "groupme_group_id": "4242", "groupme_bot_id": "abc"}
    )

    assert response.status_code == 400
    assert Bot.objects.count() == 1


def test_analysts_cannot_connect_groupme_or_create_bots(analyst_client, tenant, fake_groupme):
    GroupMeConnectionFactory(tenant=tenant, access_token="old-token")
    manual = {"name": "Helper", "groupme_group_id": "4242", "groupme_bot_id": "abc123"}

    assert analyst_client.post(url("connect", tenant), {"access_token": DEFAULT_TOKEN}).status_code == 403
    assert analyst_client.post(url("create-manual", tenant), manual).status_code == 403
    picked = {"name": "Helper", "groupme_group_id": "1001"}
    assert analyst_client.post(url("create-groupme", tenant), picked).status_code == 403

    assert GroupMeConnection.objects.get().access_token == "old-token"
    assert not Bot.objects.exists()
    assert fake_groupme.bots == []


def test_a_form_goes_back_to_a_page_of_this_tenant_it_came_from_and_nowhere_else(owner_client, tenant):
    manual = {"name": "Helper", "groupme_group_id": "4242", "groupme_bot_id": "abc123"}
    back = owner_client.post(url("create-manual", tenant), {**manual, "next": url("onboarding", tenant)})
    assert back.url == url("onboarding", tenant)

    elsewhere = owner_client.post(
        url("create-manual", tenant), {**manual, "groupme_group_id": "4243", "next": "https://evil.example.com/t/x/"}
    )
    assert elsewhere.url == bot_url("detail", Bot.objects.get(group__groupme_group_id="4243"))
