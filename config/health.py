"""GET /health/: are the database, the cache and the broker reachable from this process?"""

import logging
import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app

logger = logging.getLogger("botyard.health")


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    # The cache swallows its own connection errors (by design), so a round trip is the only honest probe. Each probe
    # has a key of its own: with one shared key, two processes probing at once read each other's value (a false 503).
    probe = uuid.uuid4().hex
    key = f"health:probe:{probe}"
    cache.set(key, probe, timeout=10)
    if cache.get(key) != probe:
        raise ConnectionError("cache did not return what was stored")
    cache.delete(key)


def _check_broker() -> None:
    if celery_app.conf.task_always_eager:
        return  # no broker is configured: tasks run inline
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        broker.default_channel  # noqa: B018 - opening a channel proves the broker answers


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            checks[name] = "ok"
        except Exception as exc:  # any failure of a dependency is reported, never raised
            logger.warning("health check failed", extra={"check": name, "error": repr(exc)})
            checks[name] = "error"
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)
