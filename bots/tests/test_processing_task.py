"""The processing task posts the reply itself; its retries go through `send_reply`. Statements per reply bounded."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bots import tasks
from bots.models import Interaction, ReplyPart
from bots.tests.factories import RuleFactory
from config.celery import app as celery_app
from groups.models import Member
from groups.tests.factories import MemberFactory, MessageFactory

pytestmark = pytest.mark.django_db

POST = "/v3/bots/post"


@pytest.fixture
def command(bot):
    """A stored `!help` from a member seen before, not processed yet (what a wake-up or a sweep hands a worker)."""
    RuleFactory(tenant=bot.tenant, bot=bot, pattern="help", response="Hi {name}!")
    member = MemberFactory(tenant=bot.tenant, group=bot.group, groupme_user_id="555", nickname="Ana")
    return MessageFactory(tenant=bot.tenant, group=bot.group, bot=bot, member=None, sender_id=member.groupme_user_id,
                          sender_name="Ana", text="!help", processed_at=None)  # fmt: skip


def _process(message, capture):
    with capture(execute=True):
        return tasks.process_messages.apply(args=([[str(message.tenant_id), str(message.pk)]],)).get()


def test_a_reply_is_posted_by_the_task_that_processed_its_message(
    command, fake_groupme, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(tasks.send_reply, "apply_async", lambda *args, **kwargs: published.append(kwargs))

    assert _process(command, django_capture_on_commit_callbacks) == 1

    assert [post["text"] for post in fake_groupme.posts] == ["Hi Ana!"]
    assert published == []  # no second task
    interaction = Interaction.objects.get()
    assert interaction.reply_status == Interaction.ReplyStatus.SENT
    assert interaction.response_time_ms is not None
    assert list(ReplyPart.objects.values_list("status", "attempts")) == [("sent", 1)]


def test_processing_and_replying_take_a_bounded_number_of_statements(
    command, fake_groupme, django_capture_on_commit_callbacks
):
    with CaptureQueriesContext(connection) as queries:
        _process(command, django_capture_on_commit_callbacks)

    assert len(fake_groupme.posts) == 1
    statements = [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]
    # Processing, in one transaction (a savepoint here: the test's own transaction is around it):
    #  1 the message, locked, with its bot          2-3 the member: found locked, counted (groups.services)
    #  4 the group's counters                        5 the bot's rules
    #  6 the loop breaker's recent replies           7 the interaction, inserted as it stays
    #  8-10 the sponsored line (a savepoint and the live creatives)
    # 11 the reply part                             12 the message marked processed
    # Then the reply, from what processing holds: 13 the part claimed, 14 marked sent, 15 the interaction finished.
    assert len(statements) - statements.count("SAVEPOINT") - statements.count("RELEASE") <= 13, statements
    assert statements.count("UPDATE") == 6, statements  # member, group, message; claim, sent, interaction
    assert statements.count("INSERT") == 2, statements  # the interaction and its part: nothing written twice


def test_a_first_try_groupme_refuses_with_503_is_retried_by_send_reply_as_its_first_retry(
    command, fake_groupme, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.BOTS_REPLY_MAX_RETRIES = 2
    fake_groupme.add_fault(path=POST, status=503, times=None)
    retries = []
    real_apply = tasks.send_reply.apply

    def apply(*args, **kwargs):
        retries.append(kwargs.get("retries"))
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(tasks.send_reply, "apply", apply)  # what an eager apply_async and self.retry call

    _process(command, django_capture_on_commit_callbacks)

    assert fake_groupme.request_counts()[POST] == {503: 3}  # the first try and BOTS_REPLY_MAX_RETRIES
    assert retries[0] == 1  # the processing task's try was the first
    part = ReplyPart.objects.get()
    assert (part.status, part.attempts) == ("failed", 3)
    assert part.last_error == "gave up after 3 tries: POST /bots/post: HTTP 503"
    assert Interaction.objects.get().reply_status == Interaction.ReplyStatus.FAILED


def test_without_retries_a_refused_first_try_gives_up_at_once(
    command, fake_groupme, settings, django_capture_on_commit_callbacks
):
    settings.BOTS_REPLY_MAX_RETRIES = 0
    fake_groupme.add_fault(path=POST, status=429, times=None)

    _process(command, django_capture_on_commit_callbacks)

    assert fake_groupme.request_counts()[POST] == {429: 1}
    assert ReplyPart.objects.get().last_error == "gave up after 1 tries: POST /bots/post: HTTP 429"


def test_after_groupme_asks_to_wait_the_rest_of_the_batch_is_handed_to_send_reply(
    command, fake_groupme, monkeypatch, django_capture_on_commit_callbacks
):
    second = MessageFactory(tenant=command.tenant, group=command.group, bot=command.bot, member=None,
                            sender_id="556", sender_name="Bo", text="!help", processed_at=None)  # fmt: skip
    fake_groupme.add_fault(path=POST, status=429, times=1)
    published = []

    def record(*args, **kwargs):
        published.append((kwargs["args"], kwargs.get("retries", 0)))

    monkeypatch.setattr(tasks.send_reply, "apply_async", record)
    celery_app.conf.task_always_eager = False  # published as by a worker (the autouse _celery_inline puts it back)
    tenant_id = str(command.tenant_id)

    with django_capture_on_commit_callbacks(execute=True):
        processed = tasks.process_messages.apply(args=([[tenant_id, str(command.pk)], [tenant_id, str(second.pk)]],))

    assert processed.get() == 2
    first, other = (Interaction.objects.get(message=message) for message in (command, second))
    assert published == [((tenant_id, str(first.pk)), 1), ((tenant_id, str(other.pk)), 0)]
    assert fake_groupme.request_counts()[POST] == {429: 1}  # the second reply was not tried inline
    assert Member.objects.filter(group=command.group).count() == 2
