"""POST /hooks/groupme/<token>/: GroupMe's callback. Validate, store once, answer; the work happens in a task."""

import json
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bots.callbacks import CallbackInvalid, callback_parse
from bots.selectors import bot_get_by_callback_token
from bots.services import message_ingest

logger = logging.getLogger("botyard.ingest")

MAX_CALLBACK_BYTES = 256 * 1024


def _refusal(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


@csrf_exempt
@require_POST
def groupme_callback(request: HttpRequest, token: str) -> HttpResponse:
    received_at = timezone.now()
    bot = bot_get_by_callback_token(token=token)
    if bot is None:
        return _refusal(404, "not_found", "No active bot has this callback URL.")
    if len(request.body) > MAX_CALLBACK_BYTES:
        return _refusal(413, "too_large", f"A callback is at most {MAX_CALLBACK_BYTES} bytes.")
    try:
        callback = callback_parse(json.loads(request.body), received_at=received_at)
    except (ValueError, RecursionError, CallbackInvalid) as exc:
        detail = str(exc) if isinstance(exc, CallbackInvalid) else "The body is not valid JSON."
        return _refusal(400, "invalid", detail)
    if callback.group_id != bot.groupme_group_id:
        return _refusal(403, "wrong_group", "This bot does not belong to that group.")
    message_id = message_ingest(bot=bot, callback=callback, received_at=received_at)
    return JsonResponse({"status": "accepted" if message_id else "duplicate"}, status=202 if message_id else 200)
