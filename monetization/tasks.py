import logging

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from bots.outbox import outbox_publish
from bots.tasks import retry_delay
from monetization.sponsorship import (
    SponsoredPostRetryLater,
    sponsored_post_give_up_slot,
    sponsored_post_send,
    sponsored_posts_due,
    sponsored_posts_unfinished,
)

logger = logging.getLogger("botyard.monetization")


@shared_task(name="monetization.tasks.post_scheduled_sponsored_messages")
def post_scheduled_sponsored_messages() -> dict[str, int]:
    """Beat, every 5 minutes: one send task per due slot, and again for posts whose task was lost. Sending claims
    the slot, so a slot found twice (overlapping look-backs, a second beat) is still posted once."""
    now = timezone.now()
    due = sponsored_posts_due(now=now)
    unfinished = sponsored_posts_unfinished(now=now)
    published = sum(
        outbox_publish(
            send_sponsored_post,
            str(slot.tenant_id),
            str(slot.creative_id),
            str(slot.group_id),
            slot.local_date.isoformat(),
            slot.slot,
        )
        for slot in [*due, *unfinished]
    )
    report = {"due": len(due), "unfinished": len(unfinished), "published": published}
    logger.info("sponsored posts dispatched", extra=report)
    return report


@shared_task(bind=True, name="monetization.tasks.send_sponsored_post", max_retries=None)
def send_sponsored_post(
    self: Task,  # type: ignore[type-arg]
    tenant_id: str,
    creative_id: str,
    group_id: str,
    local_date: str,
    slot: str,
) -> str:
    ids = {"tenant_id": tenant_id, "creative_id": creative_id, "group_id": group_id}
    try:
        return sponsored_post_send(**ids, local_date=local_date, slot=slot)
    except SponsoredPostRetryLater as exc:
        if self.request.retries >= settings.BOTS_REPLY_MAX_RETRIES:
            reason = f"gave up after {self.request.retries + 1} tries: {exc}"
            sponsored_post_give_up_slot(**ids, local_date=local_date, slot=slot, reason=reason)
            return "failed"
        raise self.retry(countdown=retry_delay(attempt=self.request.retries, retry_after=exc.retry_after)) from exc
