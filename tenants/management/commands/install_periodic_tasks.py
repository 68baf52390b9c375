from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from config.beat import periodic_tasks_install


class Command(BaseCommand):
    help = "Store the code-defined periodic jobs in django-celery-beat (missing ones only; admin edits are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)
        self.stdout.write(f"created {len(created)} periodic task(s): {', '.join(created) or 'none missing'}")
