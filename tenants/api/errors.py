"""One error shape for the whole API: {"code": ..., "detail": ..., "fields": {field: [messages]}}."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler


def json_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; to the caller it is the same 400 as a serializer's.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(response.data)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(response.data.get("detail", exc.detail)) if isinstance(response.data, dict) else exc.detail,
        }
    return response


def _validation_body(errors: Any) -> dict[str, Any]:
    if isinstance(errors, list):
        return {"code": "invalid", "detail": " ".join(str(e) for e in errors)}
    fields = {name: messages for name, messages in errors.items() if name not in ("non_field_errors", "detail")}
    general = errors.get("non_field_errors") or errors.get("detail") or []
    if isinstance(general, str):
        general = [general]
    detail = " ".join(str(message) for message in general) or "Some fields are invalid."
    body: dict[str, Any] = {"code": "invalid", "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """JSON under /api/, the usual page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "detail": "Something went wrong on our side."}, status=500)
    return defaults.server_error(request)
