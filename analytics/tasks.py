from celery import shared_task

import analytics.health_tasks  # noqa: F401 - autodiscovery imports only <app>.tasks; this registers the health job
from analytics.services import kpi_aggregate, kpi_finalize_yesterday


@shared_task(name="analytics.tasks.aggregate_kpis")
def aggregate_kpis(full: bool = False) -> list[dict[str, object]]:
    return [vars(report) for report in kpi_aggregate(full=full)]


@shared_task(name="analytics.tasks.finalize_kpis")
def finalize_kpis() -> list[dict[str, object]]:
    return [vars(report) for report in kpi_finalize_yesterday()]
