"""The periodic jobs are defined in code (settings.CELERY_BEAT_SCHEDULE) and live in django-celery-beat's tables.

Django-celery-beat's own scheduler rewrites every code-defined entry at each start, undoing what an admin changed.
Here the code only creates the entries that are missing, so the admin stays the place to pause or re-time a job.
An entry may name its `previous_schedules` (earlier code defaults): a stored job still on one of them was never
re-timed by anyone, so it is moved to the current default.
"""

from typing import Any

from celery import Celery
from celery.schedules import maybe_schedule
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler, ModelEntry


def _stored_on(job: PeriodicTask, schedule: Any) -> bool:
    """Whether `job` runs on `schedule` (a crontab, a timedelta, ...), compared field by field with the row
    django-celery-beat would store for it."""
    schedule = maybe_schedule(schedule)
    for schedule_type, model_type, field in ModelEntry.model_schedules:
        if isinstance(schedule, schedule_type):
            stored, wanted = getattr(job, field), model_type.from_schedule(schedule)
            columns = [column.attname for column in model_type._meta.concrete_fields if not column.primary_key]
            return stored is not None and all(getattr(stored, name) == getattr(wanted, name) for name in columns)
    return False


def periodic_tasks_install(*, schedule: dict[str, dict[str, Any]]) -> list[str]:
    """Create the missing periodic tasks, and move those still on a previous default; returns the names written."""
    existing = {job.name: job for job in PeriodicTask.objects.filter(name__in=schedule).select_related(
        *(field for _, _, field in ModelEntry.model_schedules))}  # fmt: skip
    written = []
    for name, fields in schedule.items():
        entry = {key: value for key, value in fields.items() if key != "previous_schedules"}
        job = existing.get(name)
        if job is None or any(_stored_on(job, old) for old in fields.get("previous_schedules", ())):
            ModelEntry.from_entry(name, **entry)  # an update keeps what is not the entry's: enabled, run counts
            written.append(name)
    return written


class CodeDefinedDatabaseScheduler(DatabaseScheduler):
    app: Celery

    def setup_schedule(self) -> None:
        periodic_tasks_install(schedule=self.app.conf.beat_schedule)
        self.install_default_entries(self.schedule)
