"""Request ids and structured request logs: every log line written while serving a request carries its id."""

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

logger = logging.getLogger("botyard.request")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _path_without_secrets(request: HttpRequest) -> str:
    """Callback and postback URLs carry their secret token in the path; logs get the path without it."""
    match = request.resolver_match
    token = match.kwargs.get("token") if match else None
    return request.path.replace(token, "<token>") if token else request.path


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the proxy or makes one, echoes it, and logs one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": _path_without_secrets(request),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            request_id_var.reset(token)
