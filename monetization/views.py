"""Public endpoints: short links (GET /l/<code>) and conversion postbacks (GET|POST /hooks/postback/<token>/)."""

import json
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from monetization.services import (
    click_record,
    click_target_get,
    conversion_record,
    conversion_report_clean,
    source_get_by_postback_token,
)

logger = logging.getLogger("botyard.monetization")

MAX_POSTBACK_BYTES = 64 * 1024


@never_cache
@require_GET
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    target = click_target_get(code=code)
    if target is None:
        raise Http404("No such link.")
    destination = click_record(
        target=target, user_agent=request.headers.get("User-Agent", ""), ip=request.META.get("REMOTE_ADDR", "")
    )
    response = HttpResponseRedirect(destination)
    response["Referrer-Policy"] = "no-referrer"  # the destination learns the click id, not the chat it came from
    return response


def _postback_params(request: HttpRequest) -> dict[str, Any]:
    """Query string, form or JSON body, merged (the body wins): sources send all three."""
    params: dict[str, Any] = {key: request.GET.get(key) for key in request.GET}
    if request.method == "POST":
        if len(request.body) > MAX_POSTBACK_BYTES:
            raise ValidationError("The body is too large.")
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, RecursionError):
                raise ValidationError("The body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise ValidationError("The JSON body must be an object.")
            params.update(body)
        else:
            params.update({key: request.POST.get(key) for key in request.POST})
    return params


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def conversion_postback(request: HttpRequest, token: str) -> HttpResponse:
    source = source_get_by_postback_token(token=token)
    if source is None:
        return JsonResponse({"code": "not_found", "detail": "No active source has this postback URL."}, status=404)
    try:
        params = _postback_params(request)
        report = conversion_report_clean(
            event=params.get("event"), amount=params.get("amount"), currency=params.get("currency"),
            txn_id=params.get("txn_id"), click_id=params.get("click_id"),
        )  # fmt: skip
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        detail = " ".join(exc.messages) if not fields else "Some parameters are invalid."
        return JsonResponse({"code": "invalid", "detail": detail, "fields": fields}, status=400)
    conversion, created = conversion_record(source=source, report=report)
    return JsonResponse(
        {"status": "recorded" if created else "duplicate", "conversion": str(conversion.pk),
         "attributed": conversion.interaction_id is not None},
        status=201 if created else 200,
    )  # fmt: skip
