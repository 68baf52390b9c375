"""The bot runtime across real processes: the callback over HTTP (live server), Redis as the broker, a real
`celery worker` on the test database, and the fake GroupMe for replies."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bots.models import Interaction, ReplyPart
from bots.outbox import outbox_sweep
from bots.tests.callbacks import callback_payload
from bots.tests.factories import BotFactory, RuleFactory
from groups.models import Message
from groups.tests.factories import GroupFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def live_bot(tenant):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!", intent="support")
    return bot


def _post(live_server, bot, payload):
    return requests.post(
        f"{live_server.url}/hooks/groupme/{bot.callback_token}/", json=payload, timeout=10,
        headers={"User-Agent": "GroupMeBotNotifier/1.0"},
    )  # fmt: skip


def test_round_trip_through_a_real_worker(celery_worker, live_server, live_bot, fake_groupme, wait_for):
    response = _post(live_server, live_bot, callback_payload(live_bot, text="!help", name="Ana"))

    assert response.status_code == 202
    assert [post["text"] for post in fake_groupme.wait_for_posts(1, timeout=30)] == ["Hi Ana!"]
    interaction = wait_for(
        lambda: Interaction.objects.filter(reply_status="sent").first(), message="the reply to be recorded"
    )
    assert interaction.response_time_ms is not None


def test_concurrent_duplicate_deliveries_store_once_and_reply_once(
    celery_worker, live_server, live_bot, fake_groupme, wait_for
):
    payloads = [callback_payload(live_bot, text="!help" if i % 2 else "chatter", name=f"M{i}") for i in range(30)]
    deliveries = [payload for payload in payloads for _ in range(3)]  # GroupMe-style redelivery, all at once

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda payload: _post(live_server, live_bot, payload).status_code, deliveries))

    assert statuses.count(202) == 30
    assert statuses.count(200) == 60
    assert Message.objects.count() == 30
    wait_for(lambda: not Message.objects.filter(processed_at__isnull=True).exists(), timeout=60, message="processing")
    wait_for(lambda: Interaction.objects.filter(reply_status="sent").count() == 15, timeout=60, message="replies")
    assert len(fake_groupme.posts) == 15
    assert sorted(post["text"] for post in fake_groupme.posts) == sorted(f"Hi M{i}!" for i in range(1, 30, 2))


def test_replies_survive_groupme_503s_with_exactly_one_post(
    celery_worker, live_server, live_bot, fake_groupme, wait_for
):
    fake_groupme.add_fault(path="/v3/bots/post", status=503, times=2)

    _post(live_server, live_bot, callback_payload(live_bot, text="!help", name="Bo"))

    assert [post["text"] for post in fake_groupme.wait_for_posts(1, timeout=30)] == ["Hi Bo!"]
    part = wait_for(lambda: ReplyPart.objects.filter(status="sent").first(), message="the part to be marked sent")
    assert part.attempts == 3
    assert len(fake_groupme.posts) == 1


def test_callbacks_during_a_broker_outage_are_kept_and_answered_after_it(
    celery_worker, live_server, live_bot, fake_groupme, wait_for, monkeypatch
):
    from kombu.exceptions import OperationalError

    from bots import outbox
    from bots.tasks import process_messages

    def broker_refuses(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker. Connection refused.")

    # The publish fails the way kombu fails when Redis is down; stopping the shared Redis is the fault suite's job.
    monkeypatch.setattr(process_messages, "apply_async", broker_refuses)
    monkeypatch.setattr(outbox, "_broker_down_until", 0.0)
    wake_ups = outbox.WakeUpPublisher(autostart=False)  # flushed by hand: the failed publish happens before we look
    monkeypatch.setattr(outbox, "_wake_ups", wake_ups)

    statuses = [_post(live_server, live_bot, callback_payload(live_bot, text="!help", name=f"N{i}")).status_code
                for i in range(5)]  # fmt: skip

    assert statuses == [202] * 5
    assert wake_ups.flush() == 5  # the wake-up publish is refused
    assert Message.objects.filter(processed_at__isnull=True).count() == 5
    assert fake_groupme.posts == []

    monkeypatch.delattr(process_messages, "apply_async")  # the broker is back; beat's sweeper runs
    monkeypatch.setattr(outbox, "MESSAGE_GRACE", outbox.MESSAGE_GRACE * 0)
    assert outbox_sweep()["published"] == 5

    assert len(fake_groupme.wait_for_posts(5, timeout=30)) == 5
    wait_for(lambda: Interaction.objects.filter(reply_status="sent").count() == 5, message="replies recorded")
