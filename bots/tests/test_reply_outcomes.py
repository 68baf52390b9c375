"""A post that got no answer may have reached GroupMe, which takes no idempotency key: it is settled by GroupMe's
echo of the post to the bot's callback, never by posting blindly again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bots import groupme
from bots.models import Interaction, ReplyPart
from bots.outbox import ECHO_WAIT, MESSAGE_GRACE, STALE_CLAIM, outbox_sweep
from bots.services import ReplyRetryLater, reply_send
from bots.tests.factories import InteractionFactory
from groups.models import Message
from groups.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

POST = "/v3/bots/post"


@pytest.fixture
def reply(tenant):
    interaction = InteractionFactory(tenant=tenant, reply_status=Interaction.ReplyStatus.PENDING, reply_text="Hi Ana!")
    part = ReplyPart.objects.create(tenant=tenant, interaction=interaction, sequence=0, text="Hi Ana!")
    return interaction, part


@pytest.fixture
def short_read_timeout(monkeypatch):
    monkeypatch.setattr(groupme, "TIMEOUT_SECONDS", (1.0, 0.3))


def _echo(interaction, text):
    """What GroupMe's callback of the bot's own post leaves behind: a bot message in the group."""
    return MessageFactory(
        tenant=interaction.tenant, group=interaction.group, bot=interaction.bot, member=None,
        sender_type=Message.SenderType.BOT, sender_id=interaction.bot.groupme_bot_id, sender_name=interaction.bot.name,
        text=text, sent_at=timezone.now(), processed_at=timezone.now(),
    )  # fmt: skip


def _accepted(fake):
    return [post["text"] for post in fake.posts]


def test_a_post_without_an_answer_is_uncertain_and_not_posted_again_once_groupme_echoes_it(
    reply, fake_groupme, short_read_timeout, wait_for
):
    interaction, part = reply
    fake_groupme.add_fault(path=POST, delay_ms=800)  # GroupMe takes it, after the client stopped waiting

    with pytest.raises(ReplyRetryLater):
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    part.refresh_from_db()
    assert part.status == ReplyPart.Status.UNCERTAIN
    assert "after sending" in part.last_error

    with pytest.raises(ReplyRetryLater) as waiting:  # no echo yet: wait for it rather than post again
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    assert 0 < waiting.value.retry_after <= ECHO_WAIT.total_seconds()

    echo = _echo(interaction, "Hi Ana!")
    assert reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk) == "sent"

    part.refresh_from_db()
    assert (part.status, part.accepted_at, part.attempts) == (ReplyPart.Status.SENT, echo.received_at, 1)
    wait_for(lambda: fake_groupme.posts, message="GroupMe to take the slow post")
    assert _accepted(fake_groupme) == ["Hi Ana!"]


def test_without_an_echo_the_post_is_made_again_once_the_wait_is_over(reply, fake_groupme, short_read_timeout):
    interaction, part = reply
    fake_groupme.add_fault(path=POST, delay_ms=800, status=503)  # GroupMe never had it

    with pytest.raises(ReplyRetryLater):
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=timezone.now() - ECHO_WAIT - timedelta(seconds=1))

    assert reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk) == "sent"
    part.refresh_from_db()
    assert (part.status, part.attempts) == (ReplyPart.Status.SENT, 2)
    assert _accepted(fake_groupme) == ["Hi Ana!"]


def test_an_older_identical_bot_message_does_not_count_as_the_echo(reply, fake_groupme, short_read_timeout):
    interaction, part = reply
    old = _echo(interaction, "Hi Ana!")
    Message.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    fake_groupme.add_fault(path=POST, delay_ms=800, status=503)

    with pytest.raises(ReplyRetryLater):
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    with pytest.raises(ReplyRetryLater):
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    assert ReplyPart.objects.get(pk=part.pk).status == ReplyPart.Status.UNCERTAIN


def test_a_refused_connection_never_reached_groupme_and_stays_plainly_retryable(reply, settings):
    interaction, part = reply
    settings.GROUPME_API_URL = "http://127.0.0.1:9/v3"  # nothing listens on the discard port

    with pytest.raises(ReplyRetryLater):
        reply_send(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    assert ReplyPart.objects.get(pk=part.pk).status == ReplyPart.Status.PENDING


def test_the_sweeper_makes_a_dead_workers_claim_uncertain_and_publishes_it(reply, fake_groupme):
    interaction, part = reply
    claimed_at = timezone.now() - STALE_CLAIM - timedelta(seconds=1)
    ReplyPart.objects.filter(pk=part.pk).update(status=ReplyPart.Status.SENDING, attempts=1, updated_at=claimed_at)
    _echo(interaction, "Hi Ana!")  # the dead worker's post had reached GroupMe

    report = outbox_sweep()  # tasks run inline here: the republished send_reply settles the part

    part.refresh_from_db()
    assert report["claims_released"] == 1
    assert (part.status, part.attempts) == (ReplyPart.Status.SENT, 1)
    assert _accepted(fake_groupme) == []


def test_a_part_whose_task_was_lost_is_republished_after_the_message_grace_not_the_retry_grace(reply, fake_groupme):
    interaction, part = reply
    ReplyPart.objects.filter(pk=part.pk).update(updated_at=timezone.now() - MESSAGE_GRACE - timedelta(seconds=1))

    report = outbox_sweep()

    assert report["replies"] == 1
    assert _accepted(fake_groupme) == ["Hi Ana!"]
    assert Interaction.objects.get(pk=interaction.pk).reply_status == Interaction.ReplyStatus.SENT
