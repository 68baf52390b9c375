from celery import shared_task

from analytics.health import bot_health_alerts_send


@shared_task(name="analytics.health_tasks.check_bot_health")
def check_bot_health() -> dict[str, int]:
    """Beat, every 10 minutes: e-mail owners about bot conditions not yet reported today (idempotent)."""
    return vars(bot_health_alerts_send())
