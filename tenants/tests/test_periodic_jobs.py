from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.beat import periodic_tasks_install
from config.celery import app as celery_app
from tenants.models import ApiKey
from tenants.tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_every_code_defined_job_names_a_registered_task_with_an_expiry():
    celery_app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in celery_app.tasks, name
        assert entry["options"]["expire_seconds"] > 0, name


def test_installing_the_schedule_creates_missing_jobs_and_keeps_admin_edits():
    assert "tenants.rotate_api_keys" in periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE)
    job = PeriodicTask.objects.get(name="tenants.rotate_api_keys")
    assert (job.crontab.minute, job.crontab.hour) == ("17", "3")
    assert job.expire_seconds == 6 * 3600

    job.enabled = False  # an operator pauses the job in the admin
    job.save()
    assert periodic_tasks_install(schedule=settings.CELERY_BEAT_SCHEDULE) == []
    assert PeriodicTask.objects.get(name="tenants.rotate_api_keys").enabled is False


@pytest.mark.integration
def test_the_key_job_runs_on_a_real_worker(celery_worker, tenant, wait_for):
    expired = ApiKeyFactory(tenant=tenant, expires_at=timezone.now() - timedelta(minutes=5))

    celery_app.send_task("tenants.tasks.rotate_api_keys")

    def recorded() -> bool:
        expired.refresh_from_db()
        return expired.status == ApiKey.Status.EXPIRED

    wait_for(recorded, message="the worker to record the expiry")
