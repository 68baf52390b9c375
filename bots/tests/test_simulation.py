"""The traffic simulator: what it generates, what replaying it through the callback URL stores, and the commands."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from bots.matching import command_word, rule_first_match
from bots.models import Bot, Interaction, Rule
from bots.selectors import rules_for_matching
from bots.sentiment import sentiment_score
from bots.simulation import (
    SYSTEM_KINDS,
    TrafficKind,
    bot_traffic_simulate,
    groupme_for_inline_replies,
    traffic_for_bot,
)
from bots.tests.factories import BotFactory, RuleFactory
from config.celery import app as celery_app
from groups.models import Member, Message
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

END = datetime(2025, 3, 1, 18, tzinfo=UTC)
PRICING = r"\bhow much\b.*\bkayaks?\b"
EXAMPLES = {PRICING: ("how much is a kayak?", "How much are kayaks on Sunday", "this never matches")}
UNREACHABLE_GROUPME = "http://127.0.0.1:9/v3"  # the discard port: nothing answers there


@pytest.fixture
def rules(bot):
    triggers = [("command", "help", "help"), ("command", "deals", "deals"), ("keyword", "pizza", "pizza"),
                ("regex", PRICING, "pricing")]  # fmt: skip
    for priority, (kind, pattern, intent) in enumerate(triggers):
        RuleFactory(tenant=bot.tenant, bot=bot, kind=kind, pattern=pattern, intent=intent, priority=priority)
    return rules_for_matching(bot=bot)


def _traffic(bot, *, seed=1, end=END, messages=400, members=30, days=30):
    return traffic_for_bot(
        bot=bot, messages=messages, members=members, days=days, seed=seed, end=end, regex_examples=EXAMPLES
    )


def test_the_same_seed_gives_the_same_traffic_and_another_seed_other_traffic(bot, rules):
    first = _traffic(bot, seed=1)

    assert [(c.kind, c.payload) for c in _traffic(bot, seed=1)] == [(c.kind, c.payload) for c in first]
    assert [c.payload for c in _traffic(bot, seed=2)] != [c.payload for c in first]


def test_the_same_seed_sends_the_same_message_ids_whenever_it_runs(bot, rules):
    today = _traffic(bot, end=END)
    tomorrow = _traffic(bot, end=END + timedelta(days=1, minutes=7))

    def unique_ids(callbacks):
        return [c.message_id for c in callbacks if not c.is_duplicate]

    assert unique_ids(today) == unique_ids(tomorrow)


def test_the_traffic_has_every_kind_and_each_kind_is_what_the_bot_makes_of_it(bot, rules):
    callbacks = _traffic(bot)

    assert {c.kind for c in callbacks} == set(TrafficKind)
    repeats = [c for c in callbacks if c.is_duplicate]
    assert repeats
    firsts = {c.message_id: c.payload for c in callbacks if not c.is_duplicate}
    assert all(firsts[repeat.message_id] == repeat.payload for repeat in repeats)
    for callback in (c for c in callbacks if c.kind not in SYSTEM_KINDS):
        text = callback.payload["text"]
        matched = rule_first_match(rules, text=text, command_prefix="!") is not None
        is_command = command_word(text, command_prefix="!") is not None
        assert (matched, is_command and not matched) == (
            callback.kind == TrafficKind.COMMAND,
            callback.kind == TrafficKind.UNHANDLED,
        ), text
    triggered = {rule_first_match(rules, text=c.payload["text"], command_prefix="!").pattern
                 for c in callbacks if c.kind == TrafficKind.COMMAND}  # fmt: skip
    assert triggered == {"help", "deals", "pizza", PRICING}
    moods = [sentiment_score(c.payload["text"]) for c in callbacks if c.kind == TrafficKind.CHATTER]
    assert min(moods) < -0.3
    assert max(moods) > 0.3


def test_system_events_are_shaped_as_groupme_sends_them(bot, rules):
    events = [c.payload for c in _traffic(bot) if c.kind in SYSTEM_KINDS]

    assert {event["event"]["type"] for event in events} == {
        "membership.announce.added",
        "membership.notifications.exited",
    }
    for event in events:
        assert (event["system"], event["sender_type"], event["group_id"] in ("1001", 1001)) == (True, "system", True)
        data = event["event"]["data"]
        users = data["added_users"] if "added_users" in data else [data["user"]]
        assert users
        assert all(user["id"] and user["nickname"] for user in users)


def test_members_keep_their_ids_and_names_and_ids_sometimes_arrive_as_numbers(bot, rules):
    callbacks = _traffic(bot, members=30)
    user_messages = [c.payload for c in callbacks if c.kind not in SYSTEM_KINDS]

    names_by_id = {}
    for payload in user_messages:
        names_by_id.setdefault(str(payload["user_id"]), set()).add(payload["name"])
    assert 20 <= len(names_by_id) <= 30
    assert all(len(names) == 1 for names in names_by_id.values())
    id_types = Counter(type(c.payload["id"]) for c in callbacks)
    assert id_types[int] > 0
    assert id_types[str] > id_types[int]


def test_the_traffic_follows_a_daily_and_weekly_rhythm_over_the_window(bot, rules):
    bot.tenant.time_zone = ZoneInfo("America/Chicago")
    callbacks = [c for c in _traffic(bot, messages=1500, days=28) if not c.is_duplicate]

    moments = [c.sent_at for c in callbacks]
    assert moments == sorted(moments)
    assert END - timedelta(days=28) <= moments[0]
    assert moments[-1] <= END
    local = [moment.astimezone(ZoneInfo("America/Chicago")) for moment in moments]
    assert len({moment.date() for moment in local}) >= 27
    by_hour = Counter(moment.hour for moment in local)
    assert sum(by_hour[hour] for hour in range(18, 22)) > 3 * sum(by_hour[hour] for hour in range(2, 6))
    weekend = sum(moment.weekday() >= 5 for moment in local)
    assert weekend / 8 > (len(local) - weekend) / 20  # 4 weekends and 20 weekdays in 28 days


def test_replaying_in_process_stores_each_message_once_and_answers_every_command(
    bot, rules, fake_groupme, django_capture_on_commit_callbacks
):
    callbacks = _traffic(bot)
    unique = [c for c in callbacks if not c.is_duplicate]
    asked = [c for c in unique if c.kind in (TrafficKind.COMMAND, TrafficKind.UNHANDLED)]
    assert len(asked) > 20  # more than the loop breaker allows in a wall-clock minute

    tally = bot_traffic_simulate(
        bot=bot, messages=400, members=30, days=30, seed=1, end=END, regex_examples=EXAMPLES,
        each_delivery=lambda: django_capture_on_commit_callbacks(execute=True),
    )  # fmt: skip

    assert (tally.sent, tally.resent) == (len(callbacks), len(callbacks) - len(unique))
    assert (tally.outcomes["accepted"], tally.outcomes["duplicates"]) == (len(unique), len(callbacks) - len(unique))
    assert tally.outcomes["refused"] == tally.outcomes["failed"] == 0
    stored = Message.objects.filter(group=bot.group)
    assert sorted(stored.values_list("groupme_message_id", flat=True)) == sorted(c.message_id for c in unique)
    assert not stored.filter(processed_at=None).exists()
    interactions = Interaction.objects.filter(bot=bot)
    assert sorted(interactions.values_list("message__groupme_message_id", flat=True)) == sorted(
        c.message_id for c in asked
    )
    handled = sum(c.kind == TrafficKind.COMMAND for c in asked)
    assert interactions.filter(handled=True).count() == handled
    assert set(interactions.values_list("reply_status", flat=True)) == {Interaction.ReplyStatus.SENT}
    assert len(fake_groupme.posts) == len(asked)
    bot.refresh_from_db()
    assert bot.breaker_trips == 0


def test_replaying_in_process_tracks_members_from_messages_and_events(
    bot, rules, fake_groupme, django_capture_on_commit_callbacks
):
    callbacks = _traffic(bot)
    presence = {}
    for callback in (c for c in callbacks if not c.is_duplicate):
        event = callback.payload.get("event")
        if event is None:
            presence[str(callback.payload["user_id"])] = True
        elif "added_users" in event["data"]:
            presence.update({str(user["id"]): True for user in event["data"]["added_users"]})
        else:
            presence[str(event["data"]["user"]["id"])] = False
    assert False in presence.values()

    bot_traffic_simulate(
        bot=bot, messages=400, members=30, days=30, seed=1, end=END, regex_examples=EXAMPLES,
        each_delivery=lambda: django_capture_on_commit_callbacks(execute=True),
    )  # fmt: skip

    members = Member.objects.filter(group=bot.group)
    assert dict(members.values_list("groupme_user_id", "is_present")) == presence
    bot.group.refresh_from_db()
    assert bot.group.member_count == sum(presence.values())


def _command(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_simulate_traffic_prints_one_json_line_of_counts(tenant, rules, bot):
    BotFactory(tenant=tenant, is_active=False)

    output = _command("simulate_traffic", "--tenant", tenant.slug, "--messages", "60", "--members", "12")

    assert len(output.strip().splitlines()) == 1
    summary = json.loads(output)
    assert (summary["tenant"], summary["delivery"], list(summary["bots"])) == (tenant.slug, "in-process", [str(bot.pk)])
    assert summary["accepted"] == 60 == Message.objects.count()
    assert (
        summary["sent"]
        == summary["accepted"] + summary["duplicates"]
        == sum(counts["sent"] for counts in summary["by_kind"].values())
    )
    assert summary["refused"] == summary["failed"] == 0


@pytest.mark.django_db(transaction=True)
def test_simulate_traffic_answers_through_a_fake_groupme_when_no_groupme_answers(tenant, bot, settings):
    RuleFactory(tenant=tenant, bot=bot, pattern="help")
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME

    summary = json.loads(_command("simulate_traffic", "--tenant", tenant.slug, "--messages", "150"))

    interactions = Interaction.objects.filter(bot=bot)
    assert interactions.count() > 0
    assert set(interactions.values_list("reply_status", flat=True)) == {Interaction.ReplyStatus.SENT}
    assert summary["fake_groupme_posts"] == interactions.count()
    assert settings.GROUPME_API_URL == UNREACHABLE_GROUPME


def test_simulate_traffic_sends_only_to_the_tenants_own_bot(tenant, other_tenant, bot):
    others_bot = BotFactory(tenant=other_tenant)

    with pytest.raises(CommandError, match="no bot"):
        _command("simulate_traffic", "--tenant", tenant.slug, "--bot", str(others_bot.pk))
    with pytest.raises(CommandError, match="No active tenant"):
        _command("simulate_traffic", "--tenant", "nobody")
    assert not Message.objects.exists()


def test_inline_replies_go_to_a_fake_groupme_when_no_groupme_answers(settings):
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME

    with groupme_for_inline_replies() as fake:
        assert fake is not None
        assert fake.base_url == settings.GROUPME_API_URL

    assert settings.GROUPME_API_URL == UNREACHABLE_GROUPME


def test_inline_replies_never_go_to_a_remote_groupme(settings):
    settings.GROUPME_API_URL = "https://api.groupme.com/v3"

    with groupme_for_inline_replies() as fake:
        assert fake is not None
        assert settings.GROUPME_API_URL.startswith("http://127.0.0.1:")


def test_a_local_groupme_that_answers_keeps_the_replies(fake_groupme, settings):
    with groupme_for_inline_replies() as fake:
        assert fake is None
        assert fake_groupme.base_url == settings.GROUPME_API_URL


def test_with_a_broker_the_workers_post_the_replies_and_nothing_is_started(settings):
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture restores it

    with groupme_for_inline_replies() as fake:
        assert fake is None
        assert settings.GROUPME_API_URL == UNREACHABLE_GROUPME


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_a_month_of_history_once(settings):
    settings.GROUPME_API_URL = UNREACHABLE_GROUPME

    first = _command("seed_demo", "--messages", "300")
    community = Tenant.objects.get(name="Demo Community")
    seeded = {
        "bots": Bot.objects.for_tenant(community).count(),
        "rules": Rule.objects.for_tenant(community).count(),
        "messages": Message.objects.for_tenant(community).count(),
        "interactions": Interaction.objects.for_tenant(community).count(),
        "members": Member.objects.for_tenant(community).count(),
    }
    second = _command("seed_demo", "--messages", "300")

    assert "demo@botyard.localhost" in first
    assert "demo@botyard.localhost" in second
    assert "history" in first
    assert "history" not in second  # not replayed: it would only be answered as duplicates
    assert seeded["bots"] == 2
    assert seeded["rules"] >= 8
    assert seeded["messages"] == 300
    assert seeded["interactions"] > 20
    assert seeded["members"] > 40
    assert set(Rule.objects.for_tenant(community).values_list("kind", flat=True)) == set(Rule.Kind)
    interactions = Interaction.objects.for_tenant(community)
    assert set(interactions.values_list("reply_status", flat=True)) == {Interaction.ReplyStatus.SENT}
    assert interactions.filter(handled=False).exists()
    days = {sent_at.date() for sent_at in Message.objects.for_tenant(community).values_list("sent_at", flat=True)}
    assert len(days) >= 20
    assert Member.objects.for_tenant(community).filter(is_present=False).exists()
    assert not Bot.objects.exclude(tenant=community).exists()
    assert {
        "bots": Bot.objects.for_tenant(community).count(),
        "rules": Rule.objects.for_tenant(community).count(),
        "messages": Message.objects.for_tenant(community).count(),
        "interactions": Interaction.objects.for_tenant(community).count(),
        "members": Member.objects.for_tenant(community).count(),
    } == seeded
    assert datetime.now(tz=UTC) - min(
        Member.objects.for_tenant(community).values_list("first_seen_at", flat=True)
    ) > timedelta(days=25)
