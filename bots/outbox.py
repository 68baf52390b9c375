"""Handing work to Celery without ever losing it or holding up a callback.

The durable record comes first (a message with `processed_at` null, a reply part still pending); publishing to
the broker is only a wake-up call. When the broker is unreachable the publish is skipped for a few seconds so a
burst of callbacks does not each wait out a connection timeout, and the beat sweeper re-publishes what is left.
"""

import logging
import time
from datetime import timedelta
from typing import Any

from celery import Task
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from bots.models import Interaction, ReplyPart
from groups.models import Message

logger = logging.getLogger("botyard.outbox")

BROKER_BACKOFF_SECONDS = 5.0
MESSAGE_GRACE = timedelta(seconds=15)  # younger unprocessed messages are probably on their way through a worker
PART_GRACE = timedelta(seconds=60)
STALE_CLAIM = timedelta(minutes=5)  # a part "sending" this long belongs to a worker that died
SWEEP_BATCH = 500

_broker_down_until = 0.0


def outbox_publish(task: Task, *args: Any) -> bool:  # type: ignore[type-arg]
    """Publishes `task(*args)`; False (and logged) when the broker is down: the sweeper will catch up."""
    global _broker_down_until
    if task.app.conf.task_always_eager:
        # Inline mode (zero-config, unit tests): no broker to lose; a task that crashes should be loud.
        result = task.apply_async(args=args)
        if result.failed():
            raise result.result
        return True
    if time.monotonic() < _broker_down_until:
        return False
    try:
        task.apply_async(args=args)
    except (KombuOperationalError, OSError) as exc:  # the broker is unreachable; the outbox row is durable
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("publish failed; left for the sweeper", extra={"task": task.name, "error": repr(exc)})
        return False
    except Exception:
        # A bug, not an outage: say so loudly, but never fail the request that already stored its work.
        logger.exception("publish raised; left for the sweeper", extra={"task": task.name})
        return False
    return True


def outbox_sweep() -> dict[str, int]:
    """Re-publishes unprocessed messages and unfinished replies; resets claims of dead workers. Idempotent."""
    from bots.tasks import process_message, send_reply

    now = timezone.now()
    released = ReplyPart.objects.filter(
        status=ReplyPart.Status.SENDING, updated_at__lt=now - STALE_CLAIM
    ).update(status=ReplyPart.Status.PENDING, updated_at=now)
    messages = list(
        Message.objects.filter(processed_at__isnull=True, received_at__lt=now - MESSAGE_GRACE)
        .order_by("received_at")
        .values_list("tenant_id", "pk")[:SWEEP_BATCH]
    )
    interactions = list(
        Interaction.objects.filter(
            reply_status=Interaction.ReplyStatus.PENDING,
            reply_parts__status=ReplyPart.Status.PENDING,
            reply_parts__updated_at__lt=now - PART_GRACE,
        )
        .values_list("tenant_id", "pk")
        .distinct()[:SWEEP_BATCH]
    )
    global _broker_down_until
    _broker_down_until = 0.0  # the sweeper always tries: it is how the backlog drains once the broker is back
    published = sum(outbox_publish(process_message, str(tenant_id), str(pk)) for tenant_id, pk in messages)
    published += sum(outbox_publish(send_reply, str(tenant_id), str(pk)) for tenant_id, pk in interactions)
    report = {
        "messages": len(messages),
        "replies": len(interactions),
        "published": published,
        "claims_released": released,
    }
    logger.info("outbox swept", extra=report)
    return report
