"""Bots speak the tenant's wording: the opt-out and opt-in replies, and the fallback a new bot starts with."""

import pytest

from bots.services import bot_create
from tenants.models import DEFAULT_FALLBACK_REPLY

pytestmark = pytest.mark.django_db


def test_opting_out_and_back_in_is_answered_in_the_tenants_wording(bot, deliver, fake_groupme):
    tenant = bot.tenant
    tenant.optout_reply = "Got it {name}: no more tracking. Changed your mind? {optin}"
    tenant.optin_reply = "Back on board, {name} ({optout} to leave again)."
    tenant.save()
    bot.command_prefix, bot.optout_command, bot.optin_command = "#", "stop", "start"
    bot.save()

    deliver(bot, text="#stop", user_id="7", sender_id="7", name="Cy")
    deliver(bot, text="#start", user_id="7", sender_id="7", name="Cy")

    assert [post["text"] for post in fake_groupme.wait_for_posts(2)] == [
        "Got it Cy: no more tracking. Changed your mind? #start",
        "Back on board, Cy (#stop to leave again).",
    ]


def test_a_members_name_with_braces_is_not_taken_for_a_placeholder(bot, deliver, fake_groupme):
    deliver(bot, text="!optout", user_id="7", sender_id="7", name="{optin}")

    assert fake_groupme.wait_for_posts(1)[0]["text"] == (
        "{optin}, you're opted out: I won't keep your messages. Send !optin to opt back in."
    )


def test_a_new_bot_starts_with_the_tenants_fallback_reply(tenant):
    tenant.default_fallback_reply = "No idea, {name}. Try !help."
    tenant.save()

    bot = bot_create(tenant=tenant, name="Helper", groupme_group_id="2001", groupme_bot_id="abc123")

    assert bot.fallback_text == "No idea, {name}. Try !help."


def test_a_fallback_given_at_creation_wins_over_the_tenants(tenant):
    bot = bot_create(
        tenant=tenant, name="Helper", groupme_group_id="2001", groupme_bot_id="abc123", fallback_text="Eh?"
    )

    assert bot.fallback_text == "Eh?"
    assert tenant.default_fallback_reply == DEFAULT_FALLBACK_REPLY
