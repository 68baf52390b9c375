"""A Celery worker SIGKILLed in the middle of a task, a new worker started: the task runs again, its effect once.

Tasks are acknowledged late (CELERY_TASK_ACKS_LATE), so a task whose worker died is still "unacked" in Redis and
comes back when its visibility timeout passes (an hour: longer than any retry countdown, or Redis would hand a
scheduled retry to a second worker). The tests bring that moment forward (`redeliver_unacked`). The outbox sweeper
is the other way back: a message still unprocessed, a reply part claimed by a dead worker (after STALE_CLAIM).
"""

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.db.models import F

from bots.models import Interaction, ReplyPart
from bots.outbox import PART_GRACE, STALE_CLAIM
from bots.tests.factories import BotFactory, RuleFactory
from config.tests.faults.conftest import botyard_environment, stored_command, sweep
from groups.models import Group, Member, Message
from groups.tests.factories import GroupFactory

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HARD_TIMEOUT_SECONDS = 90


@pytest.fixture
def bot(tenant):
    bot = BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))
    RuleFactory(tenant=tenant, bot=bot, pattern="help", response="Hi {name}!")
    return bot


def _sweep(private_redis, queue_name: str) -> None:
    sweep(broker=private_redis.url(0), queue=queue_name)


def _backends_waiting_for_the_group_row() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE %s",
            [f'UPDATE "{Group._meta.db_table}"%'],
        )
        return [row[0] for row in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_worker_killed_while_processing_a_message_leaves_nothing_behind_and_the_redelivery_runs_once(
    bot, start_botyard_worker, test_database_url, private_redis, queue_name, fake_groupme, wait_for, measure
):
    message = stored_command(bot, key="killed-while-processing")
    first_worker = start_botyard_worker()
    # Hold the group's row so that processing stops halfway: message locked, member inserted, group update waiting.
    with psycopg.connect(test_database_url) as blocker:
        blocker.execute(f'SELECT 1 FROM "{Group._meta.db_table}" WHERE id = %s FOR UPDATE', [bot.group_id])  # noqa: S608
        _sweep(private_redis, queue_name)
        [stuck_backend] = wait_for(_backends_waiting_for_the_group_row, message="processing to reach the group row")
        first_worker.kill()
        killed_at = time.monotonic()
        blocker.rollback()
    # The dead worker's transaction ends when its backend finds the client gone: rolled back, nothing half-done.
    wait_for(lambda: not _backend_alive(stuck_backend), timeout=15, message="the dead worker's session to end")
    message.refresh_from_db()
    assert message.processed_at is None
    assert not Member.objects.filter(group=bot.group).exists()
    assert not Interaction.objects.exists()

    start_botyard_worker()
    private_redis.redeliver_unacked()  # the dead worker's task comes back
    posts = fake_groupme.wait_for_posts(1, timeout=30)
    answered_at = time.monotonic()
    # A second delivery of the same work (the sweeper, a late redelivery) finds nothing left to do.
    _sweep(private_redis, queue_name)
    private_redis.redeliver_unacked()
    wait_for(lambda: private_redis.queue_idle(queue_name), timeout=30, message="the worker to go idle")

    measure(seconds_from_kill_to_reply=round(answered_at - killed_at, 2))
    assert [post["text"] for post in fake_groupme.posts] == ["Hi Ana!"] == [post["text"] for post in posts]
    assert Interaction.objects.get().reply_status == Interaction.ReplyStatus.SENT
    assert Member.objects.get(group=bot.group).message_count == 1
    bot.group.refresh_from_db()
    assert (bot.group.message_count, bot.group.member_count) == (1, 1)


@pytest.mark.parametrize(
    "groupme_answer",
    [pytest.param(503, id="groupme-did-not-take-the-post"), pytest.param(None, id="groupme-took-the-post")],
)
def test_a_worker_killed_while_posting_a_reply_is_replaced_and_the_reply_is_posted_once(
    groupme_answer, bot, test_database_url, start_botyard_worker, start_gunicorn, private_redis, queue_name,
    fake_groupme, wait_for, measure,
):  # fmt: skip
    # GroupMe sends a bot's own posts to its callback: Botyard's web server must be there to receive that echo,
    # since the echo is what tells a post GroupMe took from one it never had.
    web = start_gunicorn(botyard_environment(database=test_database_url, redis=private_redis.url(0), queue=queue_name,
                                             groupme=fake_groupme.base_url))  # fmt: skip
    fake_groupme.register_bot(bot_id=bot.groupme_bot_id, group_id=bot.group.groupme_group_id, name=bot.name,
                              callback_url=f"{web.base_url}/hooks/groupme/{bot.callback_token}/")  # fmt: skip
    fake_groupme.echo_bot_posts = True
    stored_command(bot, key=f"killed-while-posting-{groupme_answer}")
    # GroupMe is slow to answer this post; the worker dies waiting. Then GroupMe takes it, or refuses it.
    fake_groupme.add_fault(path="/v3/bots/post", delay_ms=1500, status=groupme_answer)
    first_worker = start_botyard_worker()
    _sweep(private_redis, queue_name)
    part = wait_for(lambda: ReplyPart.objects.filter(status=ReplyPart.Status.SENDING).first(), timeout=30,
                    message="the reply part to be claimed")  # fmt: skip
    wait_for(lambda: not fake_groupme.faults, message="the post to reach GroupMe")
    first_worker.kill()
    wait_for(lambda: fake_groupme.request_counts().get("/v3/bots/post"), message="GroupMe to answer the dead worker")
    if groupme_answer is None:
        [echo] = fake_groupme.wait_for_deliveries(1)
        assert echo["status"] == 202, echo  # stored by Botyard
        wait_for(lambda: Message.objects.filter(group=bot.group, sender_type=Message.SenderType.BOT).exists(),
                 message="the echo to be stored")  # fmt: skip

    start_botyard_worker()
    private_redis.redeliver_unacked()  # the task again: the part is still claimed by the dead worker, so it waits
    wait_for(lambda: private_redis.queue_idle(queue_name), timeout=30, message="the redelivered task to run")
    # The sweeper releases a claim older than STALE_CLAIM, then re-publishes a part pending for PART_GRACE: the
    # test moves the part's clock instead of waiting the six minutes.
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=F("updated_at") - STALE_CLAIM - timedelta(seconds=1))
    _sweep(private_redis, queue_name)
    # Its post may have reached GroupMe: uncertain, settled by GroupMe's echo of it, else posted again.
    # (The same sweep publishes it, so a worker may already have settled it by the time this looks.)
    wait_for(lambda: ReplyPart.objects.filter(pk=part.pk).exclude(status=ReplyPart.Status.SENDING).exists(),
             message="the sweeper to release the dead worker's claim")  # fmt: skip
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=F("updated_at") - PART_GRACE - timedelta(seconds=1))
    _sweep(private_redis, queue_name)
    wait_for(lambda: Interaction.objects.filter(reply_status=Interaction.ReplyStatus.SENT).exists(), timeout=30,
             message="the reply to be sent")  # fmt: skip

    part.refresh_from_db()
    measure(groupme_answer=groupme_answer, accepted_posts=len(fake_groupme.posts), attempts=part.attempts,
            requests=fake_groupme.request_counts(), echoes=len(fake_groupme.deliveries))  # fmt: skip
    assert [post["text"] for post in fake_groupme.posts] == ["Hi Ana!"]
    # Refused: posted again once no echo came. Taken: settled by the echo, never posted again.
    assert (part.status, part.attempts) == (ReplyPart.Status.SENT, 2 if groupme_answer else 1)
