"""GroupMe callback bodies for tests."""

import itertools
import time
from typing import Any

from bots.models import Bot

_message_ids = itertools.count(900_000_000)


def callback_payload(bot: Bot, **fields: Any) -> dict[str, Any]:
    """A GroupMe callback for `bot`'s group, as GroupMe sends it; `fields` override."""
    payload: dict[str, Any] = {
        "attachments": [],
        "avatar_url": None,
        "created_at": int(time.time()),
        "group_id": bot.group.groupme_group_id,
        "id": str(next(_message_ids)),
        "name": "Ana",
        "sender_id": "555",
        "sender_type": "user",
        "source_guid": "guid",
        "system": False,
        "text": "hello",
        "user_id": "555",
    }
    payload.update(fields)
    return payload
