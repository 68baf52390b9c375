"""The periodic jobs are defined in code (settings.CELERY_BEAT_SCHEDULE) and live in django-celery-beat's tables.

Django-celery-beat's own scheduler rewrites every code-defined entry at each start, undoing what an admin changed.
Here the code only creates the entries that are missing, so the admin stays the place to pause or re-time a job.
"""

from typing import Any

from celery import Celery
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry


def periodic_tasks_install(*, schedule: dict[str, dict[str, Any]]) -> list[str]:
    """Create the missing periodic tasks; returns the names created."""
    existing = set(PeriodicTask.objects.filter(name__in=schedule).values_list("name", flat=True))
    created = []
    for name, fields in schedule.items():
        if name not in existing:
            ModelEntry.from_entry(name, **fields)
            created.append(name)
    return created


class CodeDefinedDatabaseScheduler(DatabaseScheduler):
    app: Celery

    def setup_schedule(self) -> None:
        periodic_tasks_install(schedule=self.app.conf.beat_schedule)
        self.install_default_entries(self.schedule)
