"""Handing work to Celery without ever losing it or holding up a callback.

The durable record comes first (a message with `processed_at` null, a reply part still pending); publishing to
the broker is only a wake-up call. When the broker is unreachable the publish is skipped for a few seconds so a
burst of callbacks does not each wait out a connection timeout, and the beat sweeper re-publishes what is left.

Callbacks do not publish at all: they hand the stored message's id to a thread of their own process
(`outbox_wake`), which sends one `process_messages` task for every message stored since its last one, at most once
per BOTS_WAKE_UP_INTERVAL_SECONDS. A callback then costs a list append instead of a Celery publish (about 0.4 ms
of CPU and a round trip), never waits for the broker, and under load one task carries many messages.
"""

import atexit
import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from bots.models import Interaction, ReplyPart
from groups.models import Message

logger = logging.getLogger("botyard.outbox")

BROKER_BACKOFF_SECONDS = 5.0
MESSAGE_GRACE = timedelta(seconds=15)  # younger unprocessed messages are probably on their way through a worker
PART_GRACE = timedelta(seconds=60)
STALE_CLAIM = timedelta(minutes=5)  # a part "sending" this long belongs to a worker that died
# GroupMe sends a bot's own posts to its callback URL within seconds; a post with no answer waits this long for that
# echo before it is posted again (bots.services.reply_send).
ECHO_WAIT = timedelta(seconds=20)
SWEEP_BATCH = 500
WAKE_UP_BATCH = 100  # messages per process_messages task: a worker process takes one task at a time

_broker_down_until = 0.0


def outbox_publish(task: Task, *args: Any, **options: Any) -> bool:  # type: ignore[type-arg]
    """Publishes `task(*args)` (`options`: apply_async's); False (and logged) when the broker is down: the sweeper
    will catch up."""
    global _broker_down_until
    if task.app.conf.task_always_eager:
        # Inline mode (zero-config, unit tests): no broker to lose; a task that crashes should be loud.
        result = task.apply_async(args=args, **options)
        if result.failed():
            raise result.result
        return True
    if time.monotonic() < _broker_down_until:
        return False
    try:
        task.apply_async(args=args, **options)
    except (KombuOperationalError, OSError) as exc:  # the broker is unreachable; the outbox row is durable
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("publish failed; left for the sweeper", extra={"task": task.name, "error": repr(exc)})
        return False
    except Exception:
        # A bug, not an outage: say so loudly, but never fail the request that already stored its work.
        logger.exception("publish raised; left for the sweeper", extra={"task": task.name})
        return False
    return True


def outbox_wake(*, tenant_id: Any, message_id: Any) -> None:
    """After a message is stored: have a worker process it soon. Never blocks and never raises for the broker."""
    from bots.tasks import process_message

    if process_message.app.conf.task_always_eager:
        outbox_publish(process_message, str(tenant_id), str(message_id))  # inline, as the caller expects
        return
    _wake_ups.add([str(tenant_id), str(message_id)])


class WakeUpPublisher:
    """A daemon thread per process that publishes what callbacks stored, in batches.

    The first message after a quiet spell is published at once; the thread then waits `interval` before the next
    publish, so messages arriving meanwhile share one task. A message whose wake-up is lost (the process killed
    between the insert and the publish, the broker down) is still in the outbox; the sweeper publishes it.
    """

    def __init__(self, *, autostart: bool = True) -> None:
        self.autostart = autostart  # tests flush by hand, with no thread racing them
        self._lock = threading.Lock()
        self._pending: list[list[str]] = []
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, item: list[str]) -> None:
        with self._lock:
            self._pending.append(item)
            thread = self._thread
            # None yet, inherited through a fork (threads are not), or ended by a bug: start one.
            if self.autostart and (thread is None or self._pid != os.getpid() or not thread.is_alive()):
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="botyard-wake-up", daemon=True)
                self._thread.start()
        self._ready.set()

    def _run(self) -> None:
        while True:
            self._ready.wait()
            self._ready.clear()
            try:
                self.flush()
            except Exception:  # never let the thread die on a bug: messages would wait for the sweeper
                logger.exception("wake-up publish raised; left for the sweeper")
            time.sleep(settings.BOTS_WAKE_UP_INTERVAL_SECONDS)

    def flush(self) -> int:
        """Publishes everything pending now; how many messages it carried."""
        from bots.tasks import process_messages

        with self._lock:
            pending, self._pending = self._pending, []
        # Tasks turned inline since (a test, at exit): the messages are in the outbox, nothing is lost.
        if pending and not process_messages.app.conf.task_always_eager:
            outbox_publish_messages(pending)
        return len(pending)


def outbox_publish_messages(messages: list[list[str]]) -> int:
    """Publishes `process_messages` for [tenant id, message id] pairs, in batches; how many were published."""
    from bots.tasks import process_messages

    published = 0
    for start in range(0, len(messages), WAKE_UP_BATCH):
        batch = messages[start : start + WAKE_UP_BATCH]
        published += len(batch) if outbox_publish(process_messages, batch) else 0
    return published


_wake_ups = WakeUpPublisher()
# A worker stopping in an orderly way (gunicorn's max_requests, a deploy) publishes what it still holds.
atexit.register(_wake_ups.flush)


def outbox_sweep() -> dict[str, int]:
    """Re-publishes unprocessed messages and unfinished replies; resets claims of dead workers. Idempotent."""
    from bots.tasks import send_reply

    now = timezone.now()
    # A dead worker's claim: its post may have reached GroupMe. Uncertain, so reply_send looks for GroupMe's echo of
    # it before posting again (updated_at kept: the echo is looked for from the claim on).
    released = ReplyPart.objects.filter(status=ReplyPart.Status.SENDING, updated_at__lt=now - STALE_CLAIM).update(
        status=ReplyPart.Status.UNCERTAIN
    )
    messages = list(
        Message.objects.filter(processed_at__isnull=True, received_at__lt=now - MESSAGE_GRACE)
        .order_by("received_at")
        .values_list("tenant_id", "pk")[:SWEEP_BATCH]
    )
    # From the parts' side: only unsettled parts are in their partial index (reply_part_unsettled), so an idle sweep
    # reads next to nothing however many replies were ever sent, where a scan for pending interactions reads them all.
    interactions = list(
        ReplyPart.objects.filter(
            # A part never attempted has no retry scheduled (its task was lost): as soon as a message would be.
            Q(status=ReplyPart.Status.PENDING, attempts=0, updated_at__lt=now - MESSAGE_GRACE)
            | Q(status=ReplyPart.Status.PENDING, updated_at__lt=now - PART_GRACE)
            | Q(status=ReplyPart.Status.UNCERTAIN, updated_at__lt=now - ECHO_WAIT),
            interaction__reply_status=Interaction.ReplyStatus.PENDING,
        )
        .order_by()  # not by sequence: DISTINCT would count it
        .values_list("interaction__tenant_id", "interaction_id")
        .distinct()[:SWEEP_BATCH]
    )
    global _broker_down_until
    _broker_down_until = 0.0  # the sweeper always tries: it is how the backlog drains once the broker is back
    published = outbox_publish_messages([[str(tenant_id), str(pk)] for tenant_id, pk in messages])
    published += sum(outbox_publish(send_reply, str(tenant_id), str(pk)) for tenant_id, pk in interactions)
    report = {
        "messages": len(messages),
        "replies": len(interactions),
        "published": published,
        "claims_released": released,
    }
    logger.info("outbox swept", extra=report)
    return report
