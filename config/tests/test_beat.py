"""Code-defined periodic jobs in django-celery-beat's tables: intervals as well as crontabs, and moving a job off an
old code default that nobody re-timed."""

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from config.beat import periodic_tasks_install

pytestmark = pytest.mark.django_db

SWEEP = "bots.sweep_outbox"


def _old_default_installed() -> PeriodicTask:
    """The sweeper as installations created before it moved to 30 s have it: every minute, 50 s expiry."""
    ModelEntry.from_entry(SWEEP, task="bots.tasks.sweep_outbox", schedule=crontab(minute="*"),
                          options={"expire_seconds": 50})  # fmt: skip
    return PeriodicTask.objects.get(name=SWEEP)


def test_the_outbox_sweeper_is_installed_as_a_30_second_interval():
    assert SWEEP in periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)

    job = PeriodicTask.objects.get(name=SWEEP)
    assert (job.interval.every, job.interval.period, job.crontab) == (30, IntervalSchedule.SECONDS, None)
    assert job.schedule.run_every == timedelta(seconds=30)  # what beat runs it on
    assert 0 < job.expire_seconds < 30  # a sweep that waited a whole period is skipped: the next one is due


def test_a_job_on_a_previous_default_moves_to_the_current_one_and_keeps_its_state():
    job = _old_default_installed()
    job.enabled = False  # paused in the admin: pausing is not re-timing
    job.save()

    assert SWEEP in periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)

    job = PeriodicTask.objects.get(name=SWEEP)
    assert (job.interval.every, job.crontab, job.expire_seconds) == (30, None, 25)
    assert job.enabled is False
    assert periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE) == []  # once


def test_a_job_re_timed_in_the_admin_keeps_its_schedule():
    job = _old_default_installed()
    job.crontab = CrontabSchedule.objects.create(minute="*/2")
    job.save()

    assert SWEEP not in periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)

    job = PeriodicTask.objects.get(name=SWEEP)
    assert (job.crontab.minute, job.interval) == ("*/2", None)


def test_an_interval_re_timed_in_the_admin_keeps_its_schedule():
    periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)
    job = PeriodicTask.objects.get(name=SWEEP)
    job.interval = IntervalSchedule.objects.create(every=45, period=IntervalSchedule.SECONDS)
    job.save()

    assert periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE) == []
    assert PeriodicTask.objects.get(name=SWEEP).interval.every == 45
