"""Redis, Botyard's cache and broker, killed while callbacks and API requests arrive, then started again (empty).

gunicorn (2 workers) and a Celery worker run on the test database and a private redis-server. Every callback is
answered 2xx and stored, the API keeps answering (throttling fails open while its counters are unreachable), and
the backlog is processed, each reply posted once, within 60 s of Redis returning.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from bots.models import Interaction, ReplyPart
from bots.outbox import MESSAGE_GRACE, PART_GRACE, outbox_sweep
from bots.tests.factories import BotFactory, InteractionFactory, RuleFactory
from config.tests.faults.conftest import SweepBeat, botyard_environment
from config.tests.faults.traffic import Traffic, seconds_summary
from groups.models import Message
from groups.tests.factories import GroupFactory
from tenants.tests.factories import ApiKeyFactory

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HARD_TIMEOUT_SECONDS = 150

OUTAGE_SECONDS = 6
DRAIN_DEADLINE_SECONDS = 60  # the bound, from Redis's return


def test_callbacks_during_a_redis_outage_are_all_kept_and_processed_once_it_returns(
    tenant, test_database_url, private_redis, fake_groupme, start_gunicorn, start_worker, queue_name, wait_for, measure
):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!")
    api_key = ApiKeyFactory(tenant=tenant)
    broker = private_redis.url(0)
    environment = botyard_environment(
        database=test_database_url, redis=broker, queue=queue_name, groupme=fake_groupme.base_url,
        API_THROTTLE_RATE="10/min",  # low enough that throttling visibly works before the outage
    )  # fmt: skip
    web = start_gunicorn(environment)
    start_worker(environment=environment, broker=broker, queue=queue_name)

    traffic = Traffic(base_url=web.base_url, bot=bot, api_key=api_key.raw_key, id_prefix="redis-")
    unprocessed = Message.objects.filter(group=bot.group, processed_at__isnull=True)
    pending = Interaction.objects.filter(bot=bot, reply_status=Interaction.ReplyStatus.PENDING)
    with SweepBeat(broker=broker, queue=queue_name) as beat:  # beat ticks through the outage, as in production
        traffic.start()
        try:
            traffic.wait_for("callback", 30, statuses=[202])
            traffic.wait_for("api", 1, statuses=[429])  # the throttle counts in Redis
            private_redis.kill()
            traffic.phase = "outage"
            killed_at = time.monotonic()
            time.sleep(OUTAGE_SECONDS)
            traffic.phase = "restart"  # Redis may answer any moment now
            restart_at = time.monotonic()
            private_redis.start()
            back_at = time.monotonic()
            traffic.phase = "after"
            traffic.wait_for("callback", 20, phase="after")
            traffic.wait_for("api", 3, phase="after")
        finally:
            traffic.stop()

        wait_for(lambda: not unprocessed.exists(), timeout=DRAIN_DEADLINE_SECONDS - (time.monotonic() - back_at),
                 message="every message to be processed after Redis returned")  # fmt: skip
        messages_drained_at = time.monotonic()
        # Reply tasks queued in Redis when it died are gone with it; their parts wait for the sweeper, which leaves
        # a part alone for PART_GRACE (60 s). Once the queue is idle, what is still pending is exactly those.
        wait_for(lambda: private_redis.queue_idle(queue_name), timeout=30, message="the worker to go idle")
        stranded = pending.count()
        ReplyPart.objects.filter(interaction__bot=bot, status=ReplyPart.Status.PENDING).update(
            updated_at=F("updated_at") - PART_GRACE  # as if PART_GRACE had passed
        )
        wait_for(lambda: not pending.exists(), timeout=30, message="the stranded replies to be sent")

    callbacks = traffic.answers("callback")
    keys = {answer.key for answer in callbacks}
    outage = traffic.answers("callback", "outage")
    measure(
        outage_seconds=round(back_at - killed_at, 1),
        callbacks={phase: dict(traffic.statuses("callback", phase)) for phase in ("before", "outage", "after")},
        callback_latency_during_outage=seconds_summary(outage),
        api={phase: dict(traffic.statuses("api", phase)) for phase in ("before", "outage", "after")},
        health_during_outage=dict(traffic.statuses("health", "outage")),
        messages_drained_seconds_after_redis_returned=round(messages_drained_at - back_at, 1),
        replies_stranded_in_the_dead_redis=stranded,
        sweeps_sent=beat.sent,
        sweeps_failed_while_down=beat.failed,
    )
    # Every callback answered 202 (each id was sent once) and stored exactly once, outage or not.
    assert len(outage) >= 10
    assert Counter(answer.status for answer in callbacks) == {202: len(callbacks)}
    stored = Message.objects.filter(group=bot.group)
    assert sorted(stored.values_list("groupme_message_id", flat=True)) == sorted(keys)
    # Throttling failed open: while its counters were unreachable every API request was served, never an error.
    assert set(traffic.statuses("api", "outage")) == {200}
    assert set(traffic.statuses("api")) <= {200, 429}
    # A probe sent during the outage may wait in gunicorn's backlog until Redis is back: judge those answered before.
    health = [a for a in traffic.answers("health", "outage") if a.sent_at + a.seconds < restart_at]
    assert health
    assert all(a.status == 503 and '"cache": "error"' in a.body and '"database": "ok"' in a.body for a in health)
    # Processed once each: one interaction per command, one accepted post per interaction.
    commands = {answer.key for answer in callbacks if answer.text == "!help"}
    interactions = Interaction.objects.filter(bot=bot)
    assert interactions.count() == len(commands)
    assert set(interactions.values_list("reply_status", flat=True)) == {Interaction.ReplyStatus.SENT}
    posted = Counter(post["text"] for post in fake_groupme.posts)
    assert posted == Counter({f"Hi M{key}!": 1 for key in commands})


def test_a_reply_whose_task_died_with_redis_is_republished_as_soon_as_a_message_would_be(tenant, fake_groupme):
    interaction = InteractionFactory(tenant=tenant, reply_status=Interaction.ReplyStatus.PENDING, reply_text="Hi!")
    part = ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=0, text="Hi!")
    # Never attempted: no retry of it is scheduled, so re-publishing it cannot jump a backoff or a Retry-After.
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=timezone.now() - MESSAGE_GRACE - timedelta(seconds=5))

    report = outbox_sweep()

    assert report["replies"] == 1
    assert [post["text"] for post in fake_groupme.posts] == ["Hi!"]
