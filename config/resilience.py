"""A lost database connection answers 503 with Retry-After, not 500: the outage is ours and it is temporary.

GroupMe redelivers a callback that did not get a 2xx, integrators retry a 503 after Retry-After, and load balancers
tell "down for a moment" from "broken". Django itself drops the broken connection when the request ends (a
connection on which an error occurred is closed unless it still answers) and CONN_HEALTH_CHECKS makes the next
request reconnect, so Botyard recovers when PostgreSQL is back, without a restart.

Other database errors (a deadlock, a statement timeout, a bug) are not outages: they stay 500s.
"""

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("botyard.resilience")

RETRY_AFTER_SECONDS = 5
# SQLSTATE classes of a connection that is gone: 08 connection exception; 57P admin/crash shutdown, starting up.
CONNECTION_LOST_SQLSTATES = ("08", "57P")
UNAVAILABLE_DETAIL = "The database is unreachable for a moment; try again shortly."


def database_connection_lost(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (rather than that a statement failed)."""
    if isinstance(exc, InterfaceError):
        return True  # Django's "connection already closed", or the driver's own
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        return str(sqlstate).startswith(CONNECTION_LOST_SQLSTATES)
    # No SQLSTATE: the driver failed on its side (refused, reset, timed out). Only an outage if a connection is
    # actually gone; SQLite's "no such table" has no SQLSTATE either and is a bug, not an outage.
    return any(_connection_gone(alias) for alias in connections)


def _connection_gone(alias: str) -> bool:
    wrapper = connections[alias]
    raw = wrapper.connection
    if raw is None:
        return bool(wrapper.errors_occurred)  # connecting failed in this request
    return bool(getattr(raw, "closed", False) or getattr(raw, "broken", False))


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    if "text/html" in request.headers.get("Accept", ""):
        response: HttpResponse = HttpResponse(UNAVAILABLE_DETAIL, status=503, content_type="text/plain; charset=utf-8")
    else:
        response = JsonResponse({"code": "database_unavailable", "detail": UNAVAILABLE_DETAIL}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_connection_lost(exception):
            return None
        logger.warning("database unavailable; answered 503", extra={"path": request.path, "error": repr(exception)})
        return database_unavailable_response(request)
