"""The broker unreachable while callbacks are enqueued: Redis as the broker (a private redis-server, killed), and
RabbitMQ as the broker (the shared one, behind a loopback TCP proxy that is cut; RabbitMQ itself is untouched).

The cache stays up (the suite's Redis), so only the broker fails. Every callback is answered 202 and kept in the
outbox; once the broker is back the sweeper publishes the backlog and the worker answers each command once.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db.models import F
from kombu import Connection

from bots.models import Bot, Interaction
from bots.outbox import MESSAGE_GRACE
from bots.tests.callbacks import callback_payload
from bots.tests.factories import BotFactory, RuleFactory
from config.tests.faults.conftest import RABBITMQ, SweepBeat, botyard_environment
from config.tests.faults.traffic import CALLBACK_HEADERS, REQUEST_TIMEOUT_SECONDS
from groups.models import Message
from groups.tests.factories import GroupFactory

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HARD_TIMEOUT_SECONDS = 120

CALLBACKS_DURING_OUTAGE = 20
DRAIN_DEADLINE_SECONDS = 60


@dataclass
class Broker:
    url: str
    cut: Callable[[], None]
    restore: Callable[[], None]


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, queue_name: str) -> Iterator[Broker]:
    if request.param == "redis":
        server = request.getfixturevalue("private_redis")
        yield Broker(url=server.url(0), cut=server.kill, restore=server.start)
        return
    proxy = request.getfixturevalue("rabbitmq_proxy")
    try:
        yield Broker(url=f"amqp://guest:guest@127.0.0.1:{proxy.port}//", cut=proxy.cut, restore=proxy.restore)
    finally:
        # The shared RabbitMQ keeps durable queues and exchanges: remove this test's (Celery names both after it).
        with Connection(f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}//", connect_timeout=5) as rabbitmq:
            channel: Any = rabbitmq.channel()
            channel.queue_delete(queue_name)
            channel.exchange_delete(queue_name)


def _post(base_url: str, bot: Bot, *, key: str, text: str) -> requests.Response:
    return requests.post(
        f"{base_url}/hooks/groupme/{bot.callback_token}/",
        json=callback_payload(bot, id=key, text=text, name=f"M{key}"), headers=CALLBACK_HEADERS,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )  # fmt: skip


def test_callbacks_enqueued_while_the_broker_is_down_are_kept_and_answered_once_it_returns(
    broker, tenant, test_database_url, fake_groupme, start_gunicorn, start_worker, queue_name, wait_for, measure
):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!")
    environment = botyard_environment(
        database=test_database_url, redis=settings.REDIS_URL, broker=broker.url, queue=queue_name,
        groupme=fake_groupme.base_url,
    )  # fmt: skip
    web = start_gunicorn(environment)
    start_worker(environment=environment, broker=broker.url, queue=queue_name)
    unprocessed = Message.objects.filter(group=bot.group, processed_at__isnull=True)
    pending = Interaction.objects.filter(bot=bot, reply_status=Interaction.ReplyStatus.PENDING)

    assert _post(web.base_url, bot, key="up-1", text="!help").status_code == 202
    fake_groupme.wait_for_posts(1, timeout=30)  # the path works through this broker

    with SweepBeat(broker=broker.url, queue=queue_name) as beat:
        broker.cut()
        cut_at = time.monotonic()
        answers = [
            _post(web.base_url, bot, key=f"down-{n}", text="!help" if n % 2 else f"chatter {n}")
            for n in range(CALLBACKS_DURING_OUTAGE)
        ]
        enqueue_seconds = time.monotonic() - cut_at
        health = requests.get(f"{web.base_url}/health/", timeout=REQUEST_TIMEOUT_SECONDS)
        stored_while_down = unprocessed.count()
        broker.restore()
        back_at = time.monotonic()
        # The sweeper leaves messages younger than MESSAGE_GRACE to the wake-up publish; skip that wait here (the
        # Redis outage scenario measures it) by making the backlog as old as it would be after the grace.
        Message.objects.filter(group=bot.group, processed_at__isnull=True).update(
            received_at=F("received_at") - MESSAGE_GRACE
        )
        wait_for(lambda: not unprocessed.exists() and not pending.exists(), timeout=DRAIN_DEADLINE_SECONDS,
                 message="the backlog to be processed and answered")  # fmt: skip
        drained_at = time.monotonic()

    measure(
        broker=broker.url.split(":")[0],
        callbacks_during_outage=dict(Counter(answer.status_code for answer in answers)),
        seconds_to_answer_them=round(enqueue_seconds, 2),
        health_during_outage=health.json(),
        drained_seconds_after_broker_returned=round(drained_at - back_at, 1),
        sweeps_sent=beat.sent,
        sweeps_failed_while_down=beat.failed,
    )
    assert [answer.status_code for answer in answers] == [202] * CALLBACKS_DURING_OUTAGE
    assert stored_while_down == CALLBACKS_DURING_OUTAGE  # kept, and not processed while no task could be sent
    assert health.status_code == 503
    assert health.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "error"}
    assert Message.objects.filter(group=bot.group).count() == CALLBACKS_DURING_OUTAGE + 1
    commands = ["up-1", *(f"down-{n}" for n in range(1, CALLBACKS_DURING_OUTAGE, 2))]
    assert Interaction.objects.filter(bot=bot, reply_status=Interaction.ReplyStatus.SENT).count() == len(commands)
    assert Counter(post["text"] for post in fake_groupme.posts) == Counter({f"Hi M{key}!": 1 for key in commands})
