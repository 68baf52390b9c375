"""Any body GroupMe (or anyone holding a callback URL) can send is a 2xx or a 4xx, never a 500, and a 4xx stores
nothing: property tests of the parser with many examples, and of `POST /hooks/groupme/<token>/` with fewer."""

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bots.callbacks import (
    EARLIEST_SENT_AT,
    MAX_ID_LENGTH,
    SENDER_TYPES,
    CallbackInvalid,
    CallbackMessage,
    callback_parse,
)
from groups.models import Message

RECEIVED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIELDS = ["attachments", "avatar_url", "created_at", "group_id", "id", "name", "sender_id", "sender_type",
          "source_guid", "system", "text", "user_id", "event"]  # fmt: skip


def _nested(*, depth: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(depth):
        nested = [nested]
    return nested


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.sampled_from(["\x00", "\ud800", "1001"])
)
json_values = st.recursive(
    json_scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
ids = st.integers(min_value=0, max_value=10**20) | st.text(min_size=1, max_size=80)
# Close to what GroupMe sends, with any field replaced by any JSON now and then: most examples reach deep.
callback_like = st.fixed_dictionaries(
    {
        "id": ids,
        "group_id": st.just("1001") | ids,
        "sender_type": st.sampled_from([*SENDER_TYPES, "", "robot"]),
        "text": st.none() | st.text(),
    },
    optional={
        "attachments": st.lists(json_values, max_size=3) | json_values,
        "avatar_url": st.none() | st.text(),
        "created_at": st.integers() | st.floats() | st.text(max_size=12) | st.booleans(),
        "name": st.text(),
        "sender_id": ids | json_values,
        "user_id": ids | json_values,
        "system": st.booleans() | json_values,
        "event": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
    },
)
any_payload = callback_like | st.dictionaries(st.sampled_from(FIELDS) | st.text(), json_values) | json_values


def _assert_storable_text(value: str, *, limit: int | None = None) -> None:
    assert "\x00" not in value
    value.encode("utf-8")  # strict: no lone surrogates
    assert limit is None or len(value) <= limit


def _assert_storable_json(value: Any) -> None:
    encoded = json.dumps(value, allow_nan=False)  # jsonb has no NaN or Infinity
    assert "\\u0000" not in encoded
    encoded.encode("utf-8")


def _assert_storable(message: CallbackMessage) -> None:
    for identifier in (message.message_id, message.group_id):
        assert identifier
        _assert_storable_text(identifier, limit=MAX_ID_LENGTH)
    for identifier in (message.sender_id, message.user_id):
        _assert_storable_text(identifier, limit=MAX_ID_LENGTH)
    _assert_storable_text(message.name, limit=255)
    _assert_storable_text(message.avatar_url, limit=500)
    if message.text is not None:
        _assert_storable_text(message.text)
    assert message.sender_type in SENDER_TYPES
    assert isinstance(message.attachments, list)
    _assert_storable_json(message.attachments)
    assert message.event is None or isinstance(message.event, dict)
    _assert_storable_json(message.event)
    assert EARLIEST_SENT_AT <= message.sent_at <= RECEIVED_AT


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(payload=any_payload)
@example(payload={"id": "1", "group_id": "1001", "text": "nul\x00in text", "name": "\ud800"})
@example(payload={"id": "1\x00", "group_id": "1001"})
@example(payload={"id": 10**5000, "group_id": "1001"})
@example(payload={"id": "1", "group_id": "1001", "attachments": [{"loc": math.nan, "\x00": math.inf}]})
@example(payload={"id": "1", "group_id": "1001", "created_at": -62135596800})
@example(payload={"id": "1", "group_id": "1001", "event": {"data": _nested(depth=40)}})
def test_any_json_parses_into_a_storable_message_or_is_refused(payload: Any) -> None:
    try:
        message = callback_parse(payload, received_at=RECEIVED_AT)
    except CallbackInvalid:
        return
    _assert_storable(message)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    message_id=st.integers(min_value=1, max_value=10**18) | st.from_regex(r"\A[0-9]{1,30}\Z"),
    text=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    created_at=st.integers(min_value=int(EARLIEST_SENT_AT.timestamp()), max_value=int(RECEIVED_AT.timestamp())),
)
def test_a_well_formed_callback_keeps_its_id_text_and_time(message_id: int | str, text: str, created_at: int) -> None:
    payload = {"id": message_id, "group_id": 1001, "text": text, "created_at": created_at, "sender_type": "user"}

    message = callback_parse(payload, received_at=RECEIVED_AT)

    assert (message.message_id, message.group_id, message.text) == (str(message_id).strip(), "1001", text)
    assert message.sent_at == datetime.fromtimestamp(created_at, tz=UTC)


# --- The endpoint --------------------------------------------------------------------------------------------------

ENDPOINT_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip


def _post(client: Any, capture: Any, bot: Any, body: bytes) -> Any:
    with capture(execute=True):  # the processing task runs inline, on the stored row
        return client.post(f"/hooks/groupme/{bot.callback_token}/", body, content_type="application/json")


def _assert_answer_matches_what_was_stored(response: Any, *, stored_before: int) -> None:
    assert response.status_code < 500, response.content
    stored_after = Message.objects.count()
    if response.status_code == 202:
        assert stored_after == stored_before + 1
        assert Message.objects.filter(processed_at__isnull=True).count() == 0  # processing did not crash
    else:
        assert response.status_code in (200, 400, 403, 413), response.content
        assert stored_after == stored_before


@pytest.mark.django_db
@ENDPOINT_SETTINGS
@given(payload=callback_like | any_payload)
def test_the_endpoint_answers_any_json_with_a_2xx_or_a_4xx_that_stores_nothing(
    payload: Any, bot: Any, client: Any, django_capture_on_commit_callbacks: Any, fake_groupme: Any
) -> None:
    body = json.dumps(payload).encode()  # NaN and Infinity as JavaScript spells them, which json.loads reads
    stored_before = Message.objects.count()

    response = _post(client, django_capture_on_commit_callbacks, bot, body)

    _assert_answer_matches_what_was_stored(response, stored_before=stored_before)


@pytest.mark.django_db
@ENDPOINT_SETTINGS
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_the_endpoint_answers_any_bytes_with_a_4xx_that_stores_nothing(
    body: bytes, bot: Any, client: Any, django_capture_on_commit_callbacks: Any, fake_groupme: Any
) -> None:
    stored_before = Message.objects.count()

    response = _post(client, django_capture_on_commit_callbacks, bot, body)

    _assert_answer_matches_what_was_stored(response, stored_before=stored_before)
