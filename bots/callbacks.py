"""GroupMe's callback JSON, validated into a typed value. Ids may arrive as strings or numbers.

Whatever JSON arrives, the result is storable as it is: PostgreSQL refuses NUL characters, lone UTF-16 surrogates
and (in jsonb) NaN and infinities, all of which `json.loads` lets through, and date arithmetic fails near year 1.
Each of those was a 500 at insert time (bots/tests/test_callback_fuzz.py).
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ID_LENGTH = 64
MAX_NESTING = 32
SENDER_TYPES = ("user", "bot", "system", "service")
# GroupMe did not exist before this: an earlier created_at is unreadable, not history.
EARLIEST_SENT_AT = datetime(2000, 1, 1, tzinfo=UTC)


class CallbackInvalid(ValueError):
    pass


@dataclass(frozen=True)
class CallbackMessage:
    message_id: str
    group_id: str
    sender_type: str
    sender_id: str
    user_id: str
    name: str
    avatar_url: str
    text: str | None
    attachments: list[Any]
    system: bool
    event: dict[str, Any] | None
    sent_at: datetime

    @property
    def is_from_user(self) -> bool:
        return self.sender_type == "user" and not self.system


def _storable_text(value: str) -> str:
    """The text without NUL characters, and with lone surrogates (from \\ud800-style escapes) as U+FFFD."""
    return value.replace("\x00", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _storable_json(value: Any, *, depth: int = 0) -> Any:
    if depth > MAX_NESTING:
        raise CallbackInvalid(f"'attachments' and 'event' are nested at most {MAX_NESTING} levels deep.")
    if isinstance(value, str):
        return _storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_storable_json(item, depth=depth + 1) for item in value]
    if isinstance(value, dict):
        return {_storable_text(key): _storable_json(item, depth=depth + 1) for key, item in value.items()}
    return value


def _identifier(payload: dict[str, Any], field: str, *, required: bool) -> str:
    value = payload.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int):
        if required or value is not None:
            raise CallbackInvalid(f"'{field}' must be a string or a number.")
        return ""
    if isinstance(value, int) and value.bit_length() > 4 * MAX_ID_LENGTH:  # before str(): it refuses huge ints
        raise CallbackInvalid(f"'{field}' is longer than {MAX_ID_LENGTH} characters.")
    text = str(value).strip()
    if required and not text:
        raise CallbackInvalid(f"'{field}' is required.")
    if len(text) > MAX_ID_LENGTH:
        raise CallbackInvalid(f"'{field}' is longer than {MAX_ID_LENGTH} characters.")
    if not text.isprintable():  # control characters and lone surrogates: no GroupMe id has them
        raise CallbackInvalid(f"'{field}' must be printable text.")
    return text


def _string(payload: dict[str, Any], field: str, *, limit: int) -> str:
    value = payload.get(field)
    return _storable_text(value)[:limit] if isinstance(value, str) else ""


def _sent_at(value: Any, *, received_at: datetime) -> datetime:
    """GroupMe's created_at (epoch seconds); the receipt time when absent, unreadable, in the future or before
    GroupMe existed."""
    if isinstance(value, bool):
        return received_at
    try:
        sent_at = datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return received_at
    if sent_at < EARLIEST_SENT_AT:
        return received_at
    return min(sent_at, received_at)


def callback_parse(payload: Any, *, received_at: datetime) -> CallbackMessage:
    if not isinstance(payload, dict):
        raise CallbackInvalid("The body must be a JSON object.")
    sender_type = payload.get("sender_type") or "user"
    if sender_type not in SENDER_TYPES:
        raise CallbackInvalid(f"'sender_type' must be one of {', '.join(SENDER_TYPES)}.")
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        raise CallbackInvalid("'text' must be a string or null.")
    attachments = payload.get("attachments")
    event = payload.get("event")
    return CallbackMessage(
        message_id=_identifier(payload, "id", required=True),
        group_id=_identifier(payload, "group_id", required=True),
        sender_type=sender_type,
        sender_id=_identifier(payload, "sender_id", required=False),
        user_id=_identifier(payload, "user_id", required=False),
        name=_string(payload, "name", limit=255),
        avatar_url=_string(payload, "avatar_url", limit=500),
        text=_storable_text(text) if text is not None else None,
        attachments=_storable_json(attachments) if isinstance(attachments, list) else [],
        system=payload.get("system") is True,
        event=_storable_json(event) if isinstance(event, dict) else None,
        sent_at=_sent_at(payload.get("created_at"), received_at=received_at),
    )
