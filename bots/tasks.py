import logging
import random

from celery import Task, shared_task
from django.conf import settings
from django.db import close_old_connections

from bots.outbox import outbox_sweep
from bots.services import ReplyRetryLater, message_process, raw_text_expire, reply_give_up, reply_send

logger = logging.getLogger("botyard.bots")


def retry_delay(*, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than GroupMe's Retry-After, capped."""
    base = settings.BOTS_REPLY_RETRY_BASE_SECONDS
    backoff = min(settings.BOTS_REPLY_RETRY_MAX_SECONDS, base * 2**attempt)
    delay = random.uniform(backoff / 2, backoff)  # noqa: S311 - jitter, not a secret
    return max(delay, retry_after or 0.0)


@shared_task(name="bots.tasks.process_message")
def process_message(tenant_id: str, message_id: str) -> None:
    message_process(tenant_id=tenant_id, message_id=message_id)


@shared_task(bind=True, name="bots.tasks.process_messages")
def process_messages(self: Task, messages: list[list[str]]) -> int:  # type: ignore[type-arg]
    """[tenant id, message id] pairs: what ingest stored since its previous wake-up, or a sweep. How many ran.

    One message failing does not hold up the others: it stays in the outbox, and the sweeper publishes it again.
    """
    processed = 0
    for tenant_id, message_id in messages:
        try:
            message_process(tenant_id=tenant_id, message_id=message_id)
        except Exception:
            if self.request.is_eager:
                raise  # inline (tests, zero-config): a crash must be loud
            logger.exception("processing failed; left in the outbox", extra={"message_id": message_id})
            close_old_connections()  # a broken connection is replaced before the next message
            continue
        processed += 1
    return processed


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
