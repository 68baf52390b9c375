import logging
import random
from functools import partial

from celery import Task, shared_task
from django.conf import settings
from django.db import close_old_connections, transaction

from bots.outbox import outbox_publish, outbox_sweep
from bots.services import (
    ReplyRetryLater,
    ReplyToSend,
    message_process,
    raw_text_expire,
    reply_give_up,
    reply_send,
    reply_send_processed,
)

logger = logging.getLogger("botyard.bots")


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than GroupMe's Retry-After, capped."""
    base = settings.BOTS_REPLY_RETRY_BASE_SECONDS
    backoff = min(settings.BOTS_REPLY_RETRY_MAX_SECONDS, base * 2**attempt)
    delay = random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


class ProcessedReplies:
    """Posts the replies of the messages one task processes, from that task: a second task per reply cost the
    worker Celery's per-task overhead and the reply a wait in the queue behind other batches.

    The first try is this task's; the retries are `send_reply`'s, published as the retries of that first try (same
    backoff, same bound). Once GroupMe has asked this task to wait (429, 5xx, no answer), the rest of its replies are
    handed to `send_reply` tasks as before, so that a slow GroupMe does not hold up the processing of the batch.
    """

    def __init__(self, *, eager: bool) -> None:
        self.eager = eager
        self.inline = True

    def post(self, reply: ReplyToSend) -> None:
        tenant_id, interaction_id = str(reply.interaction.tenant_id), str(reply.interaction.pk)
        if not self.inline:
            outbox_publish(send_reply, tenant_id, interaction_id)
            return
        try:
            reply_send_processed(reply=reply)
        except ReplyRetryLater as exc:
            self.inline = False
            _reply_retry_later(tenant_id=tenant_id, interaction_id=interaction_id, tries=1, exc=exc)
        except Exception:
            if self.eager:
                raise
            # Its parts stay pending (or claimed) in the outbox: the sweeper brings them back.
            logger.exception("reply failed; left in the outbox", extra={"interaction": interaction_id})
            close_old_connections()


def _reply_retry_later(*, tenant_id: str, interaction_id: str, tries: int, exc: ReplyRetryLater) -> None:
    """After the first try of a reply failed in the processing task: `send_reply` carries on as its retry `tries`."""
    if tries > settings.BOTS_REPLY_MAX_RETRIES:
        reply_give_up(tenant_id=tenant_id, interaction_id=interaction_id, reason=f"gave up after {tries} tries: {exc}")
        return
    countdown = retry_delay(attempt=tries - 1, retry_after=exc.retry_after)
    # A lost publish (broker down) leaves the part pending: the sweeper re-publishes it after PART_GRACE.
    outbox_publish(send_reply, tenant_id, interaction_id, countdown=countdown, retries=tries)


def _process(messages: list[list[str]], *, eager: bool) -> int:
    processed = 0
    replies = ProcessedReplies(eager=eager)
    for tenant_id, message_id in messages:
        try:
            outcome = message_process(tenant_id=tenant_id, message_id=message_id)
        except Exception:
            if eager:
                raise  # inline (tests, zero-config): a crash must be loud
            logger.exception("processing failed; left in the outbox", extra={"message_id": message_id})
            close_old_connections()  # a broken connection is replaced before the next message
            continue
        processed += 1
        if outcome.reply is not None:
            # At once in a worker; inline (tests, zero-config) inside a transaction, once it commits, as before.
            transaction.on_commit(partial(replies.post, outcome.reply))
    return processed


@shared_task(bind=True, name="bots.tasks.process_message")
def process_message(self: Task, tenant_id: str, message_id: str) -> None:  # type: ignore[type-arg]
    _process([[tenant_id, message_id]], eager=bool(self.request.is_eager))


@shared_task(bind=True, name="bots.tasks.process_messages")
def process_messages(self: Task, messages: list[list[str]]) -> int:  # type: ignore[type-arg]
    """[tenant id, message id] pairs: what ingest stored since its previous wake-up, or a sweep. How many ran.

    One message failing does not hold up the others: it stays in the outbox, and the sweeper publishes it again.
    """
    return _process(messages, eager=bool(self.request.is_eager))


@shared_task(bind=True, name="bots.tasks.send_reply", max_retries=None)
def send_reply(self: Task, tenant_id: str, interaction_id: str) -> str:  # type: ignore[type-arg]
    try:
        return reply_send(tenant_id=tenant_id, interaction_id=interaction_id)
    except ReplyRetryLater as exc:
        if self.request.retries >= settings.BOTS_REPLY_MAX_RETRIES:
            reason = f"gave up after {self.request.retries + 1} tries: {exc}"
            reply_give_up(tenant_id=tenant_id, interaction_id=interaction_id, reason=reason)
            return "failed"
        raise self.retry(countdown=retry_delay(attempt=self.request.retries, retry_after=exc.retry_after)) from exc


@shared_task(name="bots.tasks.sweep_outbox")
def sweep_outbox() -> dict[str, int]:
    return outbox_sweep()


@shared_task(name="bots.tasks.expire_raw_text")
def expire_raw_text() -> dict[str, int]:
    return raw_text_expire()
