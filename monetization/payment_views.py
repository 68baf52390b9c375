"""Signed payment webhooks (Stripe-style): POST /hooks/payments/<token>/ for subscription and donation sources."""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from monetization.payments import (
    PAYMENT_SOURCE_KINDS,
    SignatureError,
    payment_event_parse,
    payment_event_record,
    signature_verify,
)
from monetization.services import source_get_by_postback_token, text_is_storable

MAX_PAYMENT_EVENT_BYTES = 256 * 1024


def _unstorable_text_in(value: Any) -> bool:
    """Whether any string of the event, keys included, holds what PostgreSQL cannot store (NUL, a lone surrogate).
    No provider sends them; a signed body that does is refused whole rather than stored in part."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and not text_is_storable(text=item):
            return True
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_exempt
@never_cache
@require_POST
def payment_webhook(request: HttpRequest, token: str) -> HttpResponse:
    source = source_get_by_postback_token(token=token)
    if source is None or source.kind not in PAYMENT_SOURCE_KINDS or not source.webhook_secret:
        return JsonResponse(
            {"code": "not_found", "detail": "No active payment source has this webhook URL."}, status=404
        )
    # The declared length is checked before the body is read, the actual one after (it may be undeclared).
    if _declared_length(request) > MAX_PAYMENT_EVENT_BYTES or len(request.body) > MAX_PAYMENT_EVENT_BYTES:
        return JsonResponse(
            {"code": "too_large", "detail": f"The body is larger than {MAX_PAYMENT_EVENT_BYTES} bytes."}, status=413
        )
    try:
        signature_verify(
            header=request.headers.get("Stripe-Signature"), payload=request.body, secret=source.webhook_secret
        )
    except SignatureError as exc:
        return JsonResponse({"code": exc.code, "detail": exc.detail}, status=400)
    try:
        event = payment_event_parse(request.body)
        if _unstorable_text_in(event):
            raise ValidationError("The event holds NUL characters or unpaired surrogates, which cannot be stored.")
        result = payment_event_record(source=source, event=event)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        detail = (
            "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
            if fields
            else " ".join(exc.messages)
        )
        return JsonResponse({"code": "invalid", "detail": detail, "fields": fields}, status=400)
    body = {"status": result.status}
    if result.conversion is not None:
        body["conversion"] = str(result.conversion.pk)
    return JsonResponse(body)
