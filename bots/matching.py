"""Which rule answers a message. Regexes run on RE2, whose matching time is linear in the input: no pattern a
tenant writes can make a worker hang (no catastrophic backtracking, no lookaround, no backreferences)."""

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol, TypeVar

import re2
from django.core.exceptions import ValidationError

MAX_PATTERN_LENGTH = 500


class MatchableRule(Protocol):
    kind: str
    pattern: str


R = TypeVar("R", bound=MatchableRule)


def _re2_options() -> "re2.Options":
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = 8 << 20  # bounds the compiled program, so a huge alternation cannot eat a worker's memory
    return options


@lru_cache(maxsize=4096)
def _compiled_regex(pattern: str) -> "re2._Regexp":
    return re2.compile(pattern, _re2_options())


@lru_cache(maxsize=4096)
def _compiled_keyword(pattern: str) -> re.Pattern[str]:
    # An escaped literal between word boundaries: linear-time on Python's engine too.
    return re.compile(rf"(?<!\w){re.escape(pattern)}(?!\w)", re.IGNORECASE)


def regex_validate(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValidationError({"pattern": f"At most {MAX_PATTERN_LENGTH} characters."})
    try:
        _compiled_regex(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValidationError({"pattern": f"Not a valid RE2 regular expression: {reason}."}) from None


def command_word(text: str, *, command_prefix: str) -> str | None:
    """'!Help me' with prefix '!' -> 'help'; None when the text is not a command."""
    stripped = text.strip()
    if not command_prefix or not stripped.startswith(command_prefix):
        return None
    rest = stripped[len(command_prefix) :].split(maxsplit=1)
    return rest[0].lower() if rest else ""


def rule_matches(rule: MatchableRule, *, text: str, command_prefix: str) -> bool:
    if rule.kind == "command":
        return command_word(text, command_prefix=command_prefix) == rule.pattern.lower()
    if rule.kind == "keyword":
        return _compiled_keyword(rule.pattern).search(text) is not None
    if rule.kind == "regex":
        return _compiled_regex(rule.pattern).search(text) is not None
    return False


def rule_first_match(rules: Iterable[R], *, text: str, command_prefix: str) -> R | None:
    """The first rule, in the order given (priority), that matches."""
    for rule in rules:
        if rule_matches(rule, text=text, command_prefix=command_prefix):
            return rule
    return None
