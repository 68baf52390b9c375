"""In a real browser: onboarding from connecting GroupMe to the first message and the first rule, and the rules
editor with its "try a message" preview."""

import pytest
from playwright.sync_api import expect

from bots.fake_groupme import DEFAULT_TOKEN
from bots.models import Bot, Rule
from bots.simulation import SimulatedCallback, TrafficKind, http_poster, traffic_deliver
from bots.tests.callbacks import callback_payload
from bots.tests.factories import BotFactory
from groups.tests.factories import GroupFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owner(tenant):
    user = UserFactory(email="owner@example.com")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    return user


def test_onboarding_from_connecting_groupme_to_the_first_message_and_the_first_rule(
    browser_login, owner, tenant, fake_groupme, live_server
):
    page = browser_login(owner)
    page.goto(f"/t/{tenant.slug}/start/")

    # Step 1: connect GroupMe with a token the fake knows, then pick one of its groups.
    page.get_by_label("GroupMe access token").fill(DEFAULT_TOKEN)
    page.get_by_role("button", name="Connect GroupMe").click()
    connect = page.get_by_role("region", name="Connect GroupMe")
    connect.get_by_label("Anglers · 3 members").check()
    connect.get_by_label("Bot name").fill("Lake bot")
    connect.get_by_role("button", name="Create the bot").click()

    bot = Bot.objects.get(tenant=tenant)
    assert [(b["name"], b["group_id"], b["callback_url"]) for b in fake_groupme.bots] == [
        ("Lake bot", "1001", bot.callback_url)
    ]
    waiting = page.locator("#step-first-message")
    expect(waiting).to_contain_text("Waiting for the first message in Anglers")

    # Step 2 updates by itself: the same document (no reload) shows the message once it is delivered.
    page.evaluate("window.stillTheSamePage = true")
    callback = SimulatedCallback(
        kind=TrafficKind.CHATTER, payload=callback_payload(bot, name="Ana", text="hello from the dock")
    )
    tally = traffic_deliver(bot=bot, callbacks=[callback], post=http_poster(base_url=live_server.url))
    assert tally.outcomes["accepted"] == 1
    expect(waiting).to_contain_text("hello from the dock")
    expect(waiting).to_contain_text("Done")
    assert page.evaluate("window.stillTheSamePage") is True

    # Step 3: the first rule, back on the checklist.
    step_three = page.locator("#step-rule")
    step_three.get_by_label("Name", exact=True).fill("Help")
    step_three.get_by_label("Kind").select_option("command")
    step_three.get_by_label("Pattern").fill("help")
    step_three.get_by_label("Reply").fill("Hi {name}! Ask me about !bait.")
    step_three.get_by_role("button", name="Add rule").click()

    expect(page.locator("#step-rule")).to_contain_text("1 rule so far")
    assert Rule.objects.get(bot=bot).pattern == "help"


def test_a_new_rule_shows_up_and_the_preview_shows_it_matching_with_its_reply(browser_login, owner, tenant):
    bot = BotFactory(tenant=tenant, name="Helper", group=GroupFactory(tenant=tenant, name="Anglers"))
    page = browser_login(owner)
    page.goto(f"/t/{tenant.slug}/bots/{bot.pk}/")
    page.evaluate("window.stillTheSamePage = true")

    editor = page.locator("#rule-editor")
    editor.get_by_label("Name", exact=True).fill("Bait")
    editor.get_by_label("Kind").select_option("keyword")
    editor.get_by_label("Pattern").fill("bait")
    editor.get_by_label("Reply").fill("{name}, the bait shop opens at 6.")
    editor.get_by_label("Intent").fill("bait")
    editor.get_by_role("button", name="Add rule").click()

    rules = page.locator("#rules")
    expect(rules).to_contain_text("Rule “Bait” added.")
    expect(rules.locator("table")).to_contain_text("bait shop opens at 6")

    page.get_by_role("textbox", name="Message").fill("where do I get bait?")
    page.get_by_role("button", name="Try it").click()

    result = page.locator("#preview-result")
    expect(result).to_contain_text("Rule Bait matches")
    expect(result.locator("#preview-reply")).to_have_text("Sam, the bait shop opens at 6.")
    assert page.evaluate("window.stillTheSamePage") is True  # htmx did both in place


def test_an_invalid_regex_shows_its_error_inline_and_keeps_what_was_typed(browser_login, owner, tenant):
    bot = BotFactory(tenant=tenant, name="Helper")
    page = browser_login(owner)
    page.goto(f"/t/{tenant.slug}/bots/{bot.pk}/")

    editor = page.locator("#rule-editor")
    editor.get_by_label("Name", exact=True).fill("Fish")
    editor.get_by_label("Kind").select_option("regex")
    editor.get_by_label("Pattern").fill("(?<=big )fish")
    editor.get_by_label("Reply").fill("Nice catch!")
    editor.get_by_role("button", name="Add rule").click()

    expect(page.locator("#rule-editor")).to_contain_text("Not a valid RE2 regular expression")
    expect(page.locator("#rule-editor").get_by_label("Pattern")).to_have_value("(?<=big )fish")
    assert not Rule.objects.exists()
