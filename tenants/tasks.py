from celery import shared_task

from tenants.services import api_keys_lifecycle_run


@shared_task(name="tenants.tasks.rotate_api_keys")
def rotate_api_keys() -> dict[str, int]:
    return api_keys_lifecycle_run().__dict__
