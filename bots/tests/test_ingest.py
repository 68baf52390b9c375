"""The callback path end to end in one process: HTTP in, tasks inline, replies to the fake GroupMe."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from bots.models import Bot, Interaction, ReplyPart
from bots.outbox import outbox_sweep
from bots.tests.callbacks import callback_payload
from bots.tests.factories import RuleFactory
from groups.models import Group, Member, Message

pytestmark = pytest.mark.django_db


def test_a_command_is_answered_and_recorded(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="Hi {name}, how can I help?", intent="support")

    response = deliver(bot, text="!help I love this group", name="Ana")

    assert response.status_code == 202
    posts = fake_groupme.wait_for_posts(1)
    assert posts[0]["bot_id"] == bot.groupme_bot_id
    assert posts[0]["text"] == "Hi Ana, how can I help?"
    interaction = Interaction.objects.get()
    assert (interaction.intent, interaction.handled, interaction.reply_status) == ("support", True, "sent")
    assert interaction.sentiment > 0
    assert interaction.response_time_ms is not None
    assert interaction.member.nickname == "Ana"
    assert interaction.message.has_interaction  # what the KPI job reads engaged members from


def test_a_repeated_callback_is_stored_once_and_answered_once(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")
    payload = callback_payload(bot, text="!help")

    first = deliver(bot, payload=payload)
    second = deliver(bot, payload=payload)

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate"}
    assert Message.objects.count() == 1
    assert Interaction.objects.count() == 1
    assert len(fake_groupme.posts) == 1


def test_numeric_ids_are_accepted(bot, deliver):
    response = deliver(bot, id=987654321, group_id=int(bot.group.groupme_group_id), user_id=42, sender_id=42)

    assert response.status_code == 202
    message = Message.objects.get()
    assert (message.groupme_message_id, message.sender_id) == ("987654321", "42")


@pytest.mark.parametrize(
    ("overrides", "why"),
    [({"sender_type": "bot", "text": "!help"}, "bot"), ({"sender_type": "system", "text": "!help"}, "system"),
     ({"system": True, "text": "!help"}, "system flag")],
)  # fmt: skip
def test_bots_and_system_messages_are_stored_but_never_answered(bot, deliver, fake_groupme, overrides, why):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")

    assert deliver(bot, **overrides).status_code == 202

    assert Message.objects.get().processed_at is not None
    assert not Interaction.objects.exists(), why
    assert fake_groupme.posts == []
    assert Group.objects.get().message_count == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(b"not json", 400, "invalid"), (b"[1, 2]", 400, "invalid"), (b'{"group_id": "1001"}', 400, "invalid"),
     (b'{"id": "1"}', 400, "invalid"), (b'{"id": "1", "group_id": "999"}', 403, "wrong_group"),
     (b"[" * 100_000, 400, "invalid")],
)  # fmt: skip
def test_bad_callbacks_are_refused_and_store_nothing(bot, client, body, status, code):
    response = client.post(f"/hooks/groupme/{bot.callback_token}/", body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Message.objects.exists()


@pytest.mark.parametrize("token_of", ["unknown", "inactive", "deleted"])
def test_unknown_or_inactive_bots_are_404(bot, client, token_of):
    token = "x" * 32 if token_of == "unknown" else bot.callback_token
    if token_of == "inactive":
        Bot.objects.filter(pk=bot.pk).update(is_active=False)
    if token_of == "deleted":
        Bot.objects.filter(pk=bot.pk).update(deleted_at="2026-01-01T00:00:00Z")

    body = json.dumps(callback_payload(bot))
    response = client.post(f"/hooks/groupme/{token}/", body, content_type="application/json")

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_members_are_tracked_from_messages_and_system_events(bot, deliver):
    deliver(bot, user_id="1", sender_id="1", name="Ana", text="hi")
    deliver(bot, user_id="1", sender_id="1", name="Ana B.", text="again")
    system = {"sender_type": "system", "system": True, "user_id": "system", "sender_id": "system"}
    added = {"type": "membership.announce.added", "data": {"added_users": [{"id": 2, "nickname": "Bo"}]}}
    exited = {"type": "membership.notifications.exited", "data": {"user": {"id": 1, "nickname": "Ana"}}}
    deliver(bot, text="Bo joined", event=added, **system)
    deliver(bot, text="Ana left", event=exited, **system)

    ana = Member.objects.get(groupme_user_id="1")
    assert (ana.message_count, ana.nickname, ana.is_present) == (2, "Ana B.", False)
    assert 1.9 < ana.engagement_score <= 2.0
    assert Member.objects.get(groupme_user_id="2").is_present
    group = Group.objects.get()
    assert (group.member_count, group.message_count) == (1, 4)


def test_an_unknown_command_is_an_unhandled_interaction_with_the_fallback(bot, deliver, fake_groupme):
    deliver(bot, text="!frobnicate")

    interaction = Interaction.objects.get()
    assert (interaction.handled, interaction.rule) == (False, None)
    assert fake_groupme.wait_for_posts(1)[0]["text"] == bot.fallback_text


def test_an_empty_fallback_records_the_interaction_without_replying(bot, deliver, fake_groupme):
    Bot.objects.filter(pk=bot.pk).update(fallback_text="")
    deliver(bot, text="!frobnicate")

    assert Interaction.objects.get().reply_status == Interaction.ReplyStatus.NONE
    assert fake_groupme.posts == []


def test_plain_chatter_is_counted_but_is_not_an_interaction(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")
    deliver(bot, text="see you all tonight")

    message = Message.objects.get()
    assert (message.processed_at is not None, message.has_interaction) == (True, False)
    assert not Interaction.objects.exists()


def test_long_replies_are_posted_in_order_in_parts(bot, deliver, fake_groupme):
    words = " ".join(f"w{i:03d}" for i in range(500))  # ~2500 characters
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="long", response=words)

    deliver(bot, text="!long")

    posts = fake_groupme.wait_for_posts(3)
    assert [len(post["text"]) <= 1000 for post in posts] == [True, True, True]
    assert " ".join(post["text"] for post in posts) == words


def test_replies_are_retried_after_503_and_posted_once(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="ok")
    fake_groupme.add_fault(path="/v3/bots/post", status=503, times=2)

    deliver(bot, text="!help")

    assert [post["text"] for post in fake_groupme.wait_for_posts(1)] == ["ok"]
    part = ReplyPart.objects.get()
    assert (part.status, part.attempts) == ("sent", 3)
    assert Interaction.objects.get().reply_status == "sent"


def test_a_reply_groupme_keeps_refusing_is_marked_failed_and_visible(bot, deliver, fake_groupme, settings):
    settings.BOTS_REPLY_MAX_RETRIES = 2
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="ok")
    fake_groupme.add_fault(path="/v3/bots/post", status=503, times=None)

    deliver(bot, text="!help")

    interaction = Interaction.objects.get()
    assert interaction.reply_status == "failed"
    part = interaction.reply_parts.get()
    assert (part.status, part.attempts, part.last_status_code) == ("failed", 3, 503)
    assert fake_groupme.posts == []


def test_a_rejected_reply_fails_at_once(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="ok")
    fake_groupme.add_fault(path="/v3/bots/post", status=400, times=1)

    deliver(bot, text="!help")

    assert ReplyPart.objects.get().attempts == 1
    assert Interaction.objects.get().reply_status == "failed"


def test_a_bot_echoed_back_as_a_user_trips_the_loop_breaker(bot, deliver, fake_groupme):
    RuleFactory(tenant=bot.tenant, bot=bot, kind="keyword", pattern="pizza", response="Pizza is great!")
    deliver(bot, text="pizza?", user_id="1", sender_id="1")
    # A relay account reposts the bot's words as a user: answering again would loop forever.
    deliver(bot, text="Pizza is great!", user_id="9", sender_id="9")
    deliver(bot, text="more pizza", user_id="1", sender_id="1")

    assert len(fake_groupme.posts) == 1
    bot.refresh_from_db()
    assert bot.is_breaker_open
    assert bot.breaker_trips == 1
    assert "repeated" in bot.breaker_last_reason
    assert Interaction.objects.filter(reply_status="none").count() == 2


def test_opting_out_redacts_history_and_stops_storing_text_until_opt_in(bot, deliver, fake_groupme):
    deliver(bot, text="my secret plans", user_id="7", sender_id="7", name="Cy")
    deliver(bot, text="!optout", user_id="7", sender_id="7", name="Cy")
    deliver(bot, text="more secrets", user_id="7", sender_id="7", name="Cy")

    member = Member.objects.get(groupme_user_id="7")
    assert member.is_opted_out
    deliver(bot, text="!frobnicate", user_id="7", sender_id="7", name="Cy")  # a command is answered, then redacted
    assert list(Message.objects.order_by("sent_at", "received_at").values_list("text", flat=True)) == [None] * 4
    assert Interaction.objects.get(intent="optout").message_text is None

    deliver(bot, text="!optin", user_id="7", sender_id="7", name="Cy")
    deliver(bot, text="back again", user_id="7", sender_id="7", name="Cy")

    member.refresh_from_db()
    assert not member.is_opted_out
    assert Message.objects.filter(text="back again").exists()
    assert len(fake_groupme.posts) == 3  # the two confirmations and the fallback


def test_callback_is_accepted_and_kept_when_the_broker_is_down(
    bot, deliver, fake_groupme, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from bots import outbox
    from bots.tasks import process_messages
    from config.celery import app as celery_app

    def broker_refuses(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="ok")
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture puts it back
    monkeypatch.setattr(process_messages, "apply_async", broker_refuses)  # as kombu fails when Redis is down
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    wake_ups = outbox.WakeUpPublisher(autostart=False)  # flushed by hand below, with no thread racing the test
    monkeypatch.setattr(outbox, "_wake_ups", wake_ups)

    assert deliver(bot, text="!help").status_code == 202
    assert wake_ups.pending == 1  # the request only handed the id over; it never waited for the broker
    assert wake_ups.flush() == 1  # the publish fails...
    assert outbox._broker_down_until > 0  # ...is noticed, and the message stays in the outbox
    assert Message.objects.get().processed_at is None

    celery_app.conf.task_always_eager = True  # the broker is back
    monkeypatch.delattr(process_messages, "apply_async")
    Message.objects.update(received_at=timezone.now() - timedelta(minutes=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_sweep()["messages"] == 1
    assert Message.objects.get().processed_at is not None
    assert [post["text"] for post in fake_groupme.wait_for_posts(1)] == ["ok"]


def test_a_reply_flood_within_one_minute_of_the_group_trips_the_breaker(bot, deliver, fake_groupme, settings):
    settings.BOTS_LOOP_MAX_REPLIES_PER_MINUTE = 3
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="go", response="went")
    start = int(timezone.now().timestamp()) - 3600

    for minute in range(4):  # one command a minute: never a flood, however fast they are delivered
        deliver(bot, text="!go", created_at=start + 60 * minute)
    for second in range(5):  # five commands within one minute of the group's time
        deliver(bot, text="!go", created_at=start + 600 + second)

    bot.refresh_from_db()
    assert bot.is_breaker_open
    assert "replies in a minute" in bot.breaker_last_reason
    assert Interaction.objects.filter(reply_status="sent").count() == 4 + 3


def test_message_text_past_retention_is_dropped_but_the_counts_stay(bot, deliver, settings):
    from bots.services import raw_text_expire

    settings.RAW_TEXT_RETENTION_DAYS = 30
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help")
    old = int((timezone.now() - timedelta(days=40)).timestamp())
    deliver(bot, text="!help from long ago", created_at=old)
    deliver(bot, text="recent words")

    assert raw_text_expire() == {"messages": 1, "interactions": 1}
    assert raw_text_expire() == {"messages": 0, "interactions": 0}
    assert sorted(Message.objects.values_list("text", flat=True), key=str) == [None, "recent words"]
    assert Interaction.objects.get().message_text is None
    assert Message.objects.count() == 2


# --- The lean ingest path --------------------------------------------------------------------------------------------


def test_a_callback_for_a_known_bot_is_one_statement_on_postgresql(bot, client, django_assert_num_queries):
    from django.db import connection

    def post(**fields):
        body = json.dumps(callback_payload(bot, **fields))
        return client.post(f"/hooks/groupme/{bot.callback_token}/", body, content_type="application/json")

    post(text="warm-up: the bot is looked up once and remembered")
    # PostgreSQL: the INSERT with the opt-out check inside it. Elsewhere: the opt-out check, then the INSERT.
    chatter_statements = 1 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(chatter_statements):
        assert post(text="see you all at practice tonight").status_code == 202
    with django_assert_num_queries(1):
        assert post(text="!help").status_code == 202  # a command needs no opt-out check anywhere
    payload = callback_payload(bot, text="again")
    post(**payload)
    with django_assert_num_queries(chatter_statements):
        assert post(**payload).status_code == 200  # a redelivery: the same statement finds the conflict
    assert Message.objects.filter(groupme_message_id=payload["id"]).count() == 1


def test_the_ingest_insert_names_every_column_a_new_message_has(db):
    from bots.services import MESSAGE_INSERT_COLUMNS

    columns = {field.column for field in Message._meta.concrete_fields}
    # member and processed_at are set by processing; every other column must be written by ingest.
    assert set(MESSAGE_INSERT_COLUMNS) == columns - {"member_id", "processed_at"}


def test_a_deactivated_bot_is_refused_once_its_cached_lookup_expires(bot, deliver, fake_groupme, monkeypatch, settings):
    from bots import selectors

    settings.BOTS_CALLBACK_CACHE_SECONDS = 5
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="ok")
    assert deliver(bot, text="hello").status_code == 202  # found, and remembered
    Bot.objects.filter(pk=bot.pk).update(is_active=False)

    # Within the cache's lifetime the message is still stored, but a deactivated bot never answers it.
    assert deliver(bot, text="!help").status_code == 202
    assert Message.objects.count() == 2
    assert not Interaction.objects.exists()
    assert fake_groupme.posts == []

    later = selectors.monotonic() + 6
    monkeypatch.setattr(selectors, "monotonic", lambda: later)
    assert deliver(bot, text="!help").status_code == 404
    assert Message.objects.count() == 2


def test_unknown_tokens_are_not_remembered(bot, client, settings):
    from bots.selectors import bot_get_by_callback_token

    settings.BOTS_CALLBACK_CACHE_SECONDS = 60
    Bot.objects.filter(pk=bot.pk).update(is_active=False)
    assert bot_get_by_callback_token(token=bot.callback_token) is None
    Bot.objects.filter(pk=bot.pk).update(is_active=True)  # a bot turned on is found at once
    assert bot_get_by_callback_token(token=bot.callback_token).id == bot.pk


def test_messages_stored_between_two_wake_ups_share_one_task(monkeypatch):
    from bots import outbox
    from config.celery import app as celery_app

    published = []
    monkeypatch.setattr(outbox, "outbox_publish", lambda task, batch: published.append((task.name, batch)) or True)
    monkeypatch.setattr(outbox, "WAKE_UP_BATCH", 2)
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture puts it back
    wake_ups = outbox.WakeUpPublisher(autostart=False)
    monkeypatch.setattr(outbox, "_wake_ups", wake_ups)

    for number in range(3):
        outbox.outbox_wake(tenant_id="t", message_id=f"m{number}")

    assert published == []  # nothing is published by the caller
    assert wake_ups.flush() == 3
    assert published == [
        ("bots.tasks.process_messages", [["t", "m0"], ["t", "m1"]]),
        ("bots.tasks.process_messages", [["t", "m2"]]),
    ]
    assert wake_ups.flush() == 0


def test_the_wake_up_thread_publishes_without_being_asked_twice(monkeypatch, wait_for, settings):
    from bots import outbox
    from config.celery import app as celery_app

    settings.BOTS_WAKE_UP_INTERVAL_SECONDS = 0.01
    published = []
    monkeypatch.setattr(outbox, "outbox_publish", lambda task, batch: published.extend(batch) or True)
    celery_app.conf.task_always_eager = False  # the autouse _celery_inline fixture puts it back
    monkeypatch.setattr(outbox, "_wake_ups", outbox.WakeUpPublisher())

    for number in range(50):
        outbox.outbox_wake(tenant_id="t", message_id=f"m{number}")

    wait_for(lambda: len(published) == 50, timeout=10, message="the thread to publish every id")
    assert [message_id for _, message_id in published] == [f"m{number}" for number in range(50)]


def test_one_failing_message_does_not_hold_up_its_batch(bot, deliver, monkeypatch):
    from bots import tasks
    from bots.services import ProcessingOutcome

    done = []

    def process(*, tenant_id, message_id):
        if message_id == "poison":
            raise RuntimeError("a bug in processing")
        done.append(message_id)
        return ProcessingOutcome(processed=True)

    monkeypatch.setattr(tasks, "message_process", process)
    # Called as a worker calls it (not inline): a failure is logged and the message left for the sweeper.
    assert tasks.process_messages([["t", "a"], ["t", "poison"], ["t", "b"]]) == 2
    assert done == ["a", "b"]


@pytest.mark.django_db(transaction=True)
def test_a_connection_broken_since_its_last_use_is_replaced_without_losing_the_callback(bot, client, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the prepared INSERT and its retry are PostgreSQL's path")

    def post(text):
        body = json.dumps(callback_payload(bot, text=text))
        return client.post(f"/hooks/groupme/{bot.callback_token}/", body, content_type="application/json")

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)  # persistent, as in production
    connection.close()
    assert post("first").status_code == 202
    connection.connection.close()  # as a PostgreSQL restart leaves it: Django still holds the dead connection

    assert post("second").status_code == 202
    assert sorted(Message.objects.values_list("text", flat=True)) == ["first", "second"]
    connection.close()
