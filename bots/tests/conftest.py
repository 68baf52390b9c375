import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from bots.models import Bot
from bots.tests.factories import BotFactory
from groups.tests.factories import GroupFactory

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


@pytest.fixture
def bot(tenant):
    return BotFactory(tenant=tenant, group=GroupFactory(tenant=tenant, groupme_group_id="1001"), name="Helper")


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """POST a callback to the bot's callback URL, running what it enqueued (inline) before returning."""

    def post(bot: Bot, **fields: Any) -> Any:
        payload = fields.pop("payload", None) or callback_payload(bot, **fields)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                f"/hooks/groupme/{bot.callback_token}/", payload, content_type="application/json",
                HTTP_USER_AGENT="GroupMeBotNotifier/1.0",
            )  # fmt: skip

    return post
