"""GroupMe slow, rate limiting (429) and failing (5xx), through a real worker and the fake GroupMe's faults.

What bots/tests already covers is not repeated here: a 503 retried inline, a reply that keeps getting 503 marked
failed (inline), a 400 failing at once, two 503s through a real worker. Here: a slow answer and 429s with
Retry-After on a two-part reply; a 500 until the retry bound, seen through the API; and a post that times out
although GroupMe accepted it.
"""

import time

import pytest

from bots import groupme
from bots.models import Interaction, ReplyPart
from bots.tests.factories import BotFactory, RuleFactory
from config.tests.faults.conftest import stored_command, sweep
from groups.tests.factories import GroupFactory

pytestmark = [pytest.mark.integration, pytest.mark.faults]
HARD_TIMEOUT_SECONDS = 60

POST_PATH = "/v3/bots/post"


@pytest.fixture
def bot(tenant):
    return BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"))


def test_a_two_part_reply_through_a_slow_answer_and_two_429s_is_posted_once_per_part_in_order(
    bot, start_botyard_worker, private_redis, queue_name, fake_groupme, wait_for, measure
):
    long_reply = " ".join(f"word{n}" for n in range(250))  # about 1,700 characters: two posts
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response=long_reply)
    fake_groupme.add_fault(path=POST_PATH, delay_ms=2000)  # slow, well within the client's 10 s read timeout
    fake_groupme.add_fault(path=POST_PATH, status=429, times=2, retry_after=1)
    start_botyard_worker()

    stored_command(bot, key="slow-and-limited")
    sweep(broker=private_redis.url(0), queue=queue_name)
    interaction = wait_for(
        lambda: Interaction.objects.exclude(reply_status=Interaction.ReplyStatus.PENDING).first(), timeout=30,
        message="the reply to finish",
    )  # fmt: skip

    parts = list(ReplyPart.objects.filter(interaction=interaction).order_by("sequence"))
    measure(requests=fake_groupme.request_counts(), attempts=[part.attempts for part in parts])
    assert interaction.reply_status == Interaction.ReplyStatus.SENT
    assert [post["text"] for post in fake_groupme.posts] == [part.text for part in parts]
    assert " ".join(part.text for part in parts) == long_reply
    assert [(part.status, part.attempts) for part in parts] == [("sent", 1), ("sent", 3)]
    assert fake_groupme.request_counts()[POST_PATH] == {202: 2, 429: 2}


def test_a_reply_groupme_keeps_refusing_with_500_stops_at_the_retry_bound_and_shows_as_failed_in_the_api(
    bot, start_botyard_worker, private_redis, queue_name, fake_groupme, api, wait_for, measure
):
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="Hi {name}!")
    fake_groupme.add_fault(path=POST_PATH, status=500, times=None)
    start_botyard_worker(BOTS_REPLY_MAX_RETRIES="3")

    stored_command(bot, key="refused")
    sweep(broker=private_redis.url(0), queue=queue_name)
    wait_for(lambda: Interaction.objects.filter(reply_status=Interaction.ReplyStatus.FAILED).exists(), timeout=30,
             message="the reply to be given up")  # fmt: skip
    wait_for(lambda: private_redis.queue_idle(queue_name), timeout=30, message="no retry left behind")

    [row] = api.get("/api/v1/interactions/").json()["results"]
    measure(requests=fake_groupme.request_counts(), api_reply_parts=row["reply_parts"])
    assert fake_groupme.request_counts()[POST_PATH] == {500: 4}  # the first try and BOTS_REPLY_MAX_RETRIES=3
    assert fake_groupme.posts == []
    assert row["reply_status"] == "failed"
    [part] = row["reply_parts"]
    assert (part["status"], part["attempts"], part["last_status_code"]) == ("failed", 4, 500)
    assert part["last_error"] == "gave up after 4 tries: POST /bots/post: HTTP 500"


def test_a_post_that_timed_out_after_groupme_accepted_it_is_not_posted_again(
    bot, deliver, fake_groupme, monkeypatch, wait_for
):
    # Inline rather than through a worker: the same reply_send code, without waiting out the real 10 s timeout.
    monkeypatch.setattr(groupme, "TIMEOUT_SECONDS", (1.0, 0.5))
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="Hi {name}!")
    fake_groupme.add_fault(path=POST_PATH, delay_ms=1000)  # answers 202 after the client has given up

    deliver(bot, text="!help", name="Ana")
    wait_for(lambda: fake_groupme.posts, timeout=10, message="GroupMe to take the slow post")
    time.sleep(1.5)  # room for a second post, had the reply been retried blindly

    assert [post["text"] for post in fake_groupme.posts] == ["Hi Ana!"]
    assert sum(fake_groupme.request_counts().get(POST_PATH, {}).values()) == 1
    # Inline tasks do not wait out ECHO_WAIT between tries, so here the reply gives up still waiting for GroupMe's
    # echo (a worker waits and then marks it sent: bots/tests/test_reply_outcomes.py); it is never posted again.
    part = ReplyPart.objects.get()
    assert part.attempts == 1
    assert "waiting for GroupMe's echo" in part.last_error
