import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()


def _import_backends_before_serving() -> None:
    """Imports the cache client and the broker transport now, while the process has one thread.

    Both are imported on first use, and gunicorn's gthread workers start serving on several threads at once.
    redis-py's package imports itself in a cycle (redis -> redis.asyncio -> redis.client -> redis.connection ->
    redis), so two threads importing it at the same moment deadlock: Python breaks the deadlock with an ImportError
    in one of them, and that request was a 500 (seen in the Redis fault test: a first API request and a first
    outbox publish on two threads of one worker).
    """
    from django.conf import settings
    from django.core.cache import caches

    from config.celery import app as celery_app

    for alias in settings.CACHES:
        caches[alias]  # creating the backend imports its client library
    celery_app.connection_for_write().release()  # resolves (imports) the transport; it connects only when used


_import_backends_before_serving()


def _freeze_what_loading_made() -> None:
    """Puts the objects loading made (Django, every app's models and admin, the URL configuration: most of what a
    worker's collector tracks) beyond the garbage collector, which otherwise walks them all on each full collection.

    They live as long as the worker anyway. On the analytics page computing a year, a full collection came about
    once in 30 requests and paused that request for 78-98 ms; with these frozen, 11-28 ms (docs/PERFORMANCE.md).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - loads the URL configuration now, not on the first request
    gc.collect()  # what loading left unreachable is freed, not frozen
    gc.freeze()


_freeze_what_loading_made()
