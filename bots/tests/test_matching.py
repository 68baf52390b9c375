from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError

from bots.matching import command_word, regex_validate, rule_first_match, rule_matches


@dataclass
class FakeRule:
    kind: str
    pattern: str
    name: str = ""


@pytest.mark.parametrize(
    ("text", "prefix", "expected"),
    [("!help", "!", "help"), ("  !Help me please", "!", "help"), ("!", "!", ""), ("help", "!", None),
     ("/deals now", "/", "deals"), ("hey !help", "!", None)],
)  # fmt: skip
def test_command_word(text, prefix, expected):
    assert command_word(text, command_prefix=prefix) == expected


@pytest.mark.parametrize(
    ("kind", "pattern", "text", "matches"),
    [
        ("command", "help", "!help", True),
        ("command", "help", "!HELP with stuff", True),
        ("command", "help", "!helpful", False),
        ("command", "help", "help", False),
        ("keyword", "pizza", "Who wants PIZZA tonight?", True),
        ("keyword", "pizza", "pizzas are great", False),
        ("keyword", "c++", "I write C++ daily", True),
        ("regex", r"\bdeal(s)?\b", "any DEALS today", True),
        ("regex", r"^\d{5}$", "12345", True),
        ("regex", r"^\d{5}$", "1234", False),
    ],
)
def test_rule_kinds(kind, pattern, text, matches):
    assert rule_matches(FakeRule(kind, pattern), text=text, command_prefix="!") is matches


def test_the_first_matching_rule_in_priority_order_wins():
    rules = [FakeRule("keyword", "price", "first"), FakeRule("command", "price", "second")]
    assert rule_first_match(rules, text="!price", command_prefix="!").name == "first"
    assert rule_first_match(rules, text="nothing here", command_prefix="!") is None


@pytest.mark.parametrize("pattern", ["(a", "(?<=a)b", r"(a)\1", "x" * 501])
def test_invalid_or_unsafe_regexes_are_refused_with_the_reason(pattern):
    with pytest.raises(ValidationError) as refused:
        regex_validate(pattern)
    assert refused.value.message_dict["pattern"][0]


def test_a_pathological_regex_runs_in_linear_time():
    # (a+)+$ backtracks exponentially on Python's engine; RE2 answers at once.
    rule = FakeRule("regex", r"(a+)+$")
    assert rule_matches(rule, text="a" * 50_000 + "!", command_prefix="!") is False
