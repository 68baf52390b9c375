from datetime import UTC, datetime

import pytest

from bots.callbacks import CallbackInvalid, callback_parse
from bots.replies import reply_render, reply_split
from bots.sentiment import sentiment_score


def test_templates_fill_name_and_link_and_leave_other_braces_alone():
    rendered = reply_render("Hi {name}! See {link} {not_a_placeholder}", name="Ana", link="https://x.test/l/a")
    assert rendered == "Hi Ana! See https://x.test/l/a {not_a_placeholder}"


def test_short_replies_are_one_part():
    assert reply_split("hello") == ["hello"]
    assert reply_split("   ") == []


def test_long_replies_split_on_word_boundaries_in_order():
    words = [f"word{i:04d}" for i in range(400)]  # 3599 characters
    parts = reply_split(" ".join(words))

    assert all(len(part) <= 1000 for part in parts)
    assert len(parts) == 4
    assert " ".join(parts).split() == words


def test_a_word_longer_than_a_post_is_cut():
    parts = reply_split("x" * 2500)
    assert [len(part) for part in parts] == [1000, 1000, 500]


@pytest.mark.parametrize(
    ("text", "sign"),
    [("I love this bot, it's awesome!", 1), ("This is terrible and I hate it", -1), ("The meeting is at 5", 0)],
)
def test_sentiment_has_the_right_sign(text, sign):
    score = sentiment_score(text)
    assert -1 <= score <= 1
    assert (score > 0.05) - (score < -0.05) == sign


RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_callbacks_accept_numeric_ids_and_epoch_times():
    parsed = callback_parse(
        {"id": 123456789, "group_id": 42, "sender_type": "user", "user_id": 7, "name": "Ana",
         "text": "!help", "created_at": 1793534400, "attachments": [], "system": False},
        received_at=RECEIVED,
    )  # fmt: skip
    assert (parsed.message_id, parsed.group_id, parsed.user_id) == ("123456789", "42", "7")
    assert parsed.sent_at.timestamp() == 1793534400
    assert parsed.is_from_user


def test_a_future_created_at_is_clamped_to_receipt():
    parsed = callback_parse({"id": "1", "group_id": "2", "created_at": 9_999_999_999}, received_at=RECEIVED)
    assert parsed.sent_at == RECEIVED


@pytest.mark.parametrize(
    "payload",
    [[], "text", {"group_id": "1"}, {"id": "1"}, {"id": "", "group_id": "1"}, {"id": {"x": 1}, "group_id": "1"},
     {"id": "1", "group_id": "2", "sender_type": "robot"}, {"id": "1", "group_id": "2", "text": 5},
     {"id": True, "group_id": "2"}, {"id": "1" * 65, "group_id": "2"}],
)  # fmt: skip
def test_malformed_callbacks_are_refused(payload):
    with pytest.raises(CallbackInvalid):
        callback_parse(payload, received_at=RECEIVED)
