"""Simulated GroupMe traffic: a group's life over days or weeks, as the callbacks GroupMe would send a bot.

The generator is pure and deterministic for a seed: a crowd of members with stable ids and nicknames, chatter in
evening- and weekend-heavy bursts, commands the bot's rules answer, unknown commands, members added and leaving,
and the occasional callback GroupMe delivers twice. Message ids come from the seed alone, so replaying the same
traffic again is answered as duplicates and changes nothing.

Delivery goes through the real callback URL, in this process (Django's test client) or over HTTP, so what the
simulation stores, counts and answers is exactly what live traffic would. `simulate_traffic` and `seed_demo` use it;
`monetization/demo_money.py` sends the demo's clicks and payments through the same `in_process_client`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import ipaddress
import logging
import random
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from bots.fake_groupme import CALLBACK_USER_AGENT, FakeGroupMe
from bots.matching import MatchableRule, command_word, rule_first_match, rule_matches
from bots.models import Bot
from bots.selectors import rules_for_matching
from config.celery import app as celery_app

Payload = dict[str, Any]


class TrafficKind(StrEnum):
    CHATTER = "chatter"  # a user message no rule answers
    COMMAND = "command"  # a user message a rule answers (a command, a keyword or a regex)
    UNHANDLED = "unhandled"  # the command prefix and a word no rule knows: the bot's fallback answers
    MEMBER_ADDED = "member_added"  # system event membership.announce.added
    MEMBER_EXITED = "member_exited"  # system event membership.notifications.exited


SYSTEM_KINDS = frozenset({TrafficKind.MEMBER_ADDED, TrafficKind.MEMBER_EXITED})


@dataclass(frozen=True)
class SimulatedMember:
    user_id: str
    nickname: str
    avatar_url: str | None
    activity: float  # relative chance of being the next to speak
    joins_at: datetime | None = None  # None: already in the group when the window opens
    leaves_at: datetime | None = None

    def is_present(self, at: datetime) -> bool:
        return (self.joins_at is None or self.joins_at <= at) and (self.leaves_at is None or at < self.leaves_at)


@dataclass(frozen=True)
class SimulatedCallback:
    kind: TrafficKind
    payload: Payload
    is_duplicate: bool = False  # GroupMe delivering the previous callback with this id once more

    @property
    def message_id(self) -> str:
        return str(self.payload["id"])

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.payload["created_at"], tz=UTC)


# --- Generation ------------------------------------------------------------------------------------------------------

# Relative traffic by local hour: quiet nights, a lunch bump, an evening peak. Weekends are busier.
HOURLY_RHYTHM = (0.12, 0.07, 0.04, 0.03, 0.03, 0.06, 0.15, 0.3, 0.4, 0.45, 0.45, 0.5,
                 0.6, 0.5, 0.45, 0.45, 0.55, 0.7, 0.85, 1.0, 1.0, 0.9, 0.6, 0.3)  # fmt: skip
WEEKEND_BOOST = 1.4
COMMAND_SHARE = 0.14
UNHANDLED_SHARE = 0.03
JOINER_SHARE = 0.15  # of the members, added during the window
LEAVER_SHARE = 0.08  # of the members, leaving during the window
NUMERIC_IDS_SHARE = 0.2  # callbacks whose ids arrive as JSON numbers
ATTACHMENT_SHARE = 0.03

FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Isla", "Jamal", "Kai", "Lena", "Mateo", "Nia",
    "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiden",
    "Bea", "Carlos", "Dana", "Emeka", "Fatima", "Gus", "Hana", "Ivan", "Jess", "Kofi", "Lucia", "Milo", "Noor",
    "Owen", "Paula", "Raj", "Sofia", "Theo", "Val", "Will", "Yara",
)  # fmt: skip
CHATTER_NEUTRAL = (
    "anyone around this weekend?", "what time are we meeting?", "just got here", "did anyone see the email?",
    "running 10 min late", "who's driving on Saturday?", "ok sounds good", "see you there", "where's the parking?",
    "can someone send the address again", "I'll be there around 7", "is it the same place as last time?",
    "brb", "lol", "fair point", "on my way", "what did I miss?", "count me in", "maybe, depends on work",
    "does anyone have a spare charger?", "how long does it usually take?", "sent you a DM",
)  # fmt: skip
CHATTER_POSITIVE = (
    "this group is the best", "thanks everyone, that was so much fun!", "love this, great idea",
    "awesome turnout today 🎉", "you all are amazing", "great job on the event, really enjoyed it",
    "so happy I joined this group", "that was excellent, thank you!", "wonderful evening, thanks for organizing",
    "haha brilliant", "nice! can't wait",
)  # fmt: skip
CHATTER_NEGATIVE = (
    "ugh, that was a terrible idea", "so annoyed, nobody showed up", "worst traffic ever, sorry",
    "I'm really disappointed with how that went", "this is frustrating", "that's awful news",
    "hate when plans change last minute", "bad day, not going to make it", "the venue was a mess honestly",
)  # fmt: skip
KEYWORD_TEMPLATES = (
    "anyone up for {word} tonight?", "{word} was amazing last time", "I could really go for some {word}",
    "who's in charge of the {word}?", "the {word} last week was awful honestly", "{word}!!", "is there {word}?",
)  # fmt: skip
COMMAND_SUFFIXES = ("", "", "", " please", " today?", " 🙏", " for this week")
UNKNOWN_COMMANDS = ("weather", "joke", "score", "rsvp", "poll", "remind", "meme", "stats", "ping", "music",
                    "trivia", "menu", "carpool", "photos")  # fmt: skip


def traffic_generate(
    *,
    group_id: str,
    command_prefix: str,
    rules: Sequence[MatchableRule],
    messages: int,
    members: int,
    days: float,
    end: datetime,
    seed: int | str,
    duplicate_rate: float = 0.03,
    time_zone: tzinfo = UTC,
    reserved_commands: Iterable[str] = (),
    regex_examples: Mapping[str, Sequence[str]] | None = None,
) -> list[SimulatedCallback]:
    """`messages` distinct callbacks (user messages and system events) over the `days` before `end`, in time order,
    plus repeated deliveries at `duplicate_rate`.

    A callback's kind is what the bot's own matching makes of its text, so it is exact even when a rule matches
    more than it should. `reserved_commands` (opt-out, opt-in) are never sent: they would change what is stored.
    Regex rules get traffic only from `regex_examples` (pattern -> texts), and only the examples that match.
    """
    if messages < 0 or members < 1 or days <= 0:
        raise ValueError("messages must be >= 0, members >= 1 and days > 0")
    rng = random.Random(seed)  # noqa: S311 - reproducible test traffic, not a secret
    start = end - timedelta(days=days)
    text_kind = _TextClassifier(rules=rules, command_prefix=command_prefix, reserved=set(reserved_commands))
    rule_texts = _rule_texts(rules=rules, command_prefix=command_prefix, regex_examples=regex_examples or {})
    roster = _roster_draw(rng=rng, members=members, start=start, end=end, time_zone=time_zone, messages=messages)

    timeline = list(_membership_events(rng=rng, roster=roster, group_id=group_id))
    user_moments = _conversation_moments(
        rng=rng, count=max(0, messages - len(timeline)), start=start, end=end, time_zone=time_zone
    )
    for at in user_moments:
        present = [member for member in roster if member.is_present(at)] or list(roster)
        author = rng.choices(present, weights=[member.activity for member in present])[0]
        text, kind = _text_draw(rng=rng, classifier=text_kind, rule_texts=rule_texts, command_prefix=command_prefix)
        attachments: list[Payload] = []
        if kind == TrafficKind.CHATTER and rng.random() < ATTACHMENT_SHARE:
            attachments.append({"type": "image", "url": f"https://i.groupme.com/{rng.getrandbits(64):016x}.jpeg"})
        timeline.append((at, kind, _user_message_builder(member=author, text=text, attachments=attachments,
                                                          group_id=group_id, at=at)))  # fmt: skip
    timeline.sort(key=lambda entry: entry[0])

    # GroupMe's ids grow with time. These come from the seed alone (not from `end`), so the same seed sends the
    # same ids again, whenever it runs, and a replay is answered as duplicates.
    id_rng = random.Random(f"{seed}:message-ids")  # noqa: S311 - not a secret
    message_id = id_rng.randrange(10**17, 9 * 10**17)
    unique: list[SimulatedCallback] = []
    for _at, kind, build in timeline:
        message_id += id_rng.randint(1, 50_000)
        payload = build(str(message_id))
        payload["source_guid"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if rng.random() < NUMERIC_IDS_SHARE:
            _ids_as_numbers(payload)
        unique.append(SimulatedCallback(kind=kind, payload=payload))
    return _with_duplicates(rng=rng, callbacks=unique, rate=duplicate_rate)


def traffic_for_bot(
    *,
    bot: Bot,
    messages: int,
    members: int,
    days: float,
    seed: int | str,
    duplicate_rate: float = 0.03,
    end: datetime | None = None,
    regex_examples: Mapping[str, Sequence[str]] | None = None,
) -> list[SimulatedCallback]:
    """Traffic for the bot's group and active rules, with the daily rhythm in the tenant's time zone."""
    return traffic_generate(
        group_id=bot.group.groupme_group_id,
        command_prefix=bot.command_prefix,
        rules=rules_for_matching(bot=bot),
        messages=messages,
        members=members,
        days=days,
        end=end or datetime.now(tz=UTC),
        seed=seed,
        duplicate_rate=duplicate_rate,
        time_zone=bot.tenant.time_zone,
        reserved_commands=(bot.optout_command, bot.optin_command),
        regex_examples=regex_examples,
    )


@dataclass(frozen=True)
class _TextClassifier:
    rules: Sequence[MatchableRule]
    command_prefix: str
    reserved: set[str]

    def __call__(self, text: str) -> TrafficKind | None:
        """What the bot will make of `text`; None when it would opt the sender out or in."""
        command = command_word(text, command_prefix=self.command_prefix)
        if command is not None and command in self.reserved:
            return None
        if rule_first_match(self.rules, text=text, command_prefix=self.command_prefix) is not None:
            return TrafficKind.COMMAND
        return TrafficKind.UNHANDLED if command is not None else TrafficKind.CHATTER


def _rule_texts(
    *, rules: Sequence[MatchableRule], command_prefix: str, regex_examples: Mapping[str, Sequence[str]]
) -> list[tuple[float, list[str]]]:
    """Per rule that can be triggered: (popularity, texts that trigger it). Higher-priority rules are asked more."""
    triggers: list[tuple[float, list[str]]] = []
    for position, rule in enumerate(rules):
        if rule.kind == "command" and command_prefix:
            texts = [f"{command_prefix}{rule.pattern}{suffix}" for suffix in COMMAND_SUFFIXES]
            texts.append(f"{command_prefix}{rule.pattern.upper()}")
        elif rule.kind == "keyword":
            texts = [template.format(word=rule.pattern) for template in KEYWORD_TEMPLATES]
        elif rule.kind == "regex":
            texts = [example for example in regex_examples.get(rule.pattern, ())
                     if rule_matches(rule, text=example, command_prefix=command_prefix)]  # fmt: skip
        else:
            texts = []
        if texts:
            triggers.append((1 / (position + 1) ** 0.5, texts))
    return triggers


def _text_draw(
    *,
    rng: random.Random,
    classifier: _TextClassifier,
    rule_texts: list[tuple[float, list[str]]],
    command_prefix: str,
) -> tuple[str, TrafficKind]:
    roll = rng.random()
    if roll < COMMAND_SHARE and rule_texts:
        wanted = TrafficKind.COMMAND
    elif roll < COMMAND_SHARE + UNHANDLED_SHARE and command_prefix:
        wanted = TrafficKind.UNHANDLED
    else:
        wanted = TrafficKind.CHATTER
    text = ""
    for _ in range(20):
        if wanted == TrafficKind.COMMAND:
            texts = rng.choices([texts for _, texts in rule_texts], weights=[weight for weight, _ in rule_texts])[0]
            text = rng.choice(texts)
        elif wanted == TrafficKind.UNHANDLED:
            text = f"{command_prefix}{rng.choice(UNKNOWN_COMMANDS)}{rng.choice(COMMAND_SUFFIXES)}"
        else:
            mood = rng.random()
            lines = CHATTER_POSITIVE if mood < 0.2 else CHATTER_NEGATIVE if mood < 0.3 else CHATTER_NEUTRAL
            text = rng.choice(lines)
        kind = classifier(text)
        if kind == wanted:
            return text, kind
    # The rules catch (or the prefix claims) everything we tried: send it anyway, labelled as what it is.
    kind = classifier(text)
    return (text, kind) if kind is not None else ("ok", classifier("ok") or TrafficKind.CHATTER)


def _moment_draw(*, rng: random.Random, start: datetime, end: datetime, time_zone: tzinfo) -> datetime:
    """A moment in [start, end), more likely in the evening and at the weekend (rejection sampling)."""
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.random() * span)
        local = moment.astimezone(time_zone)
        weight = HOURLY_RHYTHM[local.hour] * (WEEKEND_BOOST if local.weekday() >= 5 else 1.0)
        if rng.random() * WEEKEND_BOOST <= weight:
            return moment


def _conversation_moments(
    *, rng: random.Random, count: int, start: datetime, end: datetime, time_zone: tzinfo
) -> list[datetime]:
    """Messages come in conversations: a few messages minutes apart, then quiet."""
    moments: list[datetime] = []
    while len(moments) < count:
        at = _moment_draw(rng=rng, start=start, end=end, time_zone=time_zone)
        for _ in range(min(count - len(moments), 1 + int(rng.expovariate(0.5)))):
            if at >= end:
                break
            moments.append(at)
            at += timedelta(seconds=rng.randint(15, 900))
    return moments


def _roster_draw(
    *, rng: random.Random, members: int, start: datetime, end: datetime, time_zone: tzinfo, messages: int
) -> list[SimulatedMember]:
    user_ids = rng.sample(range(10_000_000, 99_999_999), members)
    nicknames: list[str] = []
    for index in range(members):
        name = FIRST_NAMES[index % len(FIRST_NAMES)]
        nicknames.append(name if index < len(FIRST_NAMES) else f"{name} {chr(ord('A') + index // len(FIRST_NAMES))}.")
    rng.shuffle(nicknames)
    roster = [
        SimulatedMember(
            user_id=str(user_id),
            nickname=nickname,
            avatar_url=f"https://i.groupme.com/{rng.getrandbits(64):016x}" if rng.random() < 0.7 else None,
            activity=rng.paretovariate(1.3),  # a few members do most of the talking
        )
        for user_id, nickname in zip(user_ids, nicknames, strict=True)
    ]
    # Joins and leaves are system messages too: keep them a small part of the traffic, and a crowd present.
    if members < 4 or messages < 10:
        return roster
    event_budget = messages // 8
    joiners = min(max(1, round(members * JOINER_SHARE)), event_budget // 2 or 1)
    leavers = min(max(1, round(members * LEAVER_SHARE)), max(0, event_budget - joiners))
    for index in rng.sample(range(members), joiners):
        roster[index] = dataclasses.replace(
            roster[index], joins_at=_moment_draw(rng=rng, start=start, end=end, time_zone=time_zone)
        )
    for index in rng.sample(range(members), leavers):
        member = roster[index]
        earliest = member.joins_at or start
        leaves_at = _moment_draw(rng=rng, start=earliest, end=end, time_zone=time_zone)
        roster[index] = dataclasses.replace(member, leaves_at=leaves_at)
    return roster


def _membership_events(
    *, rng: random.Random, roster: list[SimulatedMember], group_id: str
) -> Iterator[tuple[datetime, TrafficKind, Callable[[str], Payload]]]:
    for member in roster:
        if member.joins_at is not None:
            joins_at = member.joins_at
            present = [other for other in roster if other is not member and other.is_present(joins_at)]
            adder = rng.choice(present) if present else None
            yield (
                joins_at,
                TrafficKind.MEMBER_ADDED,
                _system_message_builder(
                    group_id=group_id,
                    at=joins_at,
                    text=f"{adder.nickname if adder else 'Someone'} added {member.nickname} to the group.",
                    event={
                        "type": "membership.announce.added",
                        "data": {
                            "added_users": [{"id": int(member.user_id), "nickname": member.nickname}],
                            **({"adder_user": {"id": int(adder.user_id), "nickname": adder.nickname}} if adder else {}),
                        },
                    },
                ),
            )
        if member.leaves_at is not None:
            yield (
                member.leaves_at,
                TrafficKind.MEMBER_EXITED,
                _system_message_builder(
                    group_id=group_id,
                    at=member.leaves_at,
                    text=f"{member.nickname} has left the group.",
                    event={
                        "type": "membership.notifications.exited",
                        "data": {"user": {"id": int(member.user_id), "nickname": member.nickname}},
                    },
                ),
            )


def _user_message_builder(
    *, member: SimulatedMember, text: str, attachments: list[Payload], group_id: str, at: datetime
) -> Callable[[str], Payload]:
    def build(message_id: str) -> Payload:
        return {
            "attachments": attachments,
            "avatar_url": member.avatar_url,
            "created_at": int(at.timestamp()),
            "group_id": group_id,
            "id": message_id,
            "name": member.nickname,
            "sender_id": member.user_id,
            "sender_type": "user",
            "source_guid": "",
            "system": False,
            "text": text,
            "user_id": member.user_id,
        }

    return build


def _system_message_builder(*, group_id: str, at: datetime, text: str, event: Payload) -> Callable[[str], Payload]:
    def build(message_id: str) -> Payload:
        return {
            "attachments": [],
            "avatar_url": None,
            "created_at": int(at.timestamp()),
            "event": event,
            "group_id": group_id,
            "id": message_id,
            "name": "GroupMe",
            "sender_id": "system",
            "sender_type": "system",
            "source_guid": "",
            "system": True,
            "text": text,
            "user_id": "system",
        }

    return build


def _ids_as_numbers(payload: Payload) -> None:
    for name in ("id", "group_id", "sender_id", "user_id"):
        value = payload[name]
        if isinstance(value, str) and value.isdigit() and not value.startswith("0"):
            payload[name] = int(value)


def _with_duplicates(*, rng: random.Random, callbacks: list[SimulatedCallback], rate: float) -> list[SimulatedCallback]:
    """GroupMe sometimes delivers a callback again, right away or after a message or two."""
    delivered: list[SimulatedCallback] = []
    repeats: dict[int, list[SimulatedCallback]] = {}
    for index, callback in enumerate(callbacks):
        delivered.append(callback)
        delivered.extend(repeats.pop(index, []))
        if rng.random() < rate:
            repeat = SimulatedCallback(kind=callback.kind, payload=copy.deepcopy(callback.payload), is_duplicate=True)
            later = index + rng.randint(0, 2)
            if later == index:
                delivered.append(repeat)
            else:
                repeats.setdefault(later, []).append(repeat)
    for pending in repeats.values():
        delivered.extend(pending)
    return delivered


# --- Delivery --------------------------------------------------------------------------------------------------------


class CallbackPoster(Protocol):
    def __call__(self, *, path: str, payload: Payload) -> int | None:
        """POSTs one callback; the HTTP status, or None when there was no answer."""


def in_process_client() -> Client:
    """Django's test client as a visitor reaches this project: every request goes through the whole stack (URLs,
    middleware, views), in this process, without a server. Send requests with `secure=True`: when
    SECURE_SSL_REDIRECT is on, a plain-HTTP request would only get a redirect."""
    return Client(HTTP_HOST=_allowed_host())


def in_process_poster() -> CallbackPoster:
    """Callbacks through Django's whole request stack in this process, without a server."""
    client = in_process_client()

    def post(*, path: str, payload: Payload) -> int | None:
        # secure: when SECURE_SSL_REDIRECT is on, a plain-HTTP request would only get a redirect.
        response = client.post(path, payload, content_type="application/json", secure=True,
                               HTTP_USER_AGENT=CALLBACK_USER_AGENT)  # fmt: skip
        return response.status_code

    return post


def http_poster(*, base_url: str, timeout: float = 10.0) -> CallbackPoster:
    """Callbacks over HTTP to a running Botyard at `base_url`, as GroupMe sends them."""
    session = requests.Session()
    session.headers["User-Agent"] = CALLBACK_USER_AGENT
    origin = base_url.rstrip("/")

    def post(*, path: str, payload: Payload) -> int | None:
        try:
            response = session.post(f"{origin}{path}", json=payload, timeout=timeout, allow_redirects=False)
        except requests.RequestException:
            return None
        return response.status_code

    return post


def _allowed_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host != "*":
            return str(host).lstrip(".")
    return "localhost"


OUTCOMES = ("accepted", "duplicates", "refused", "failed")


@dataclass
class DeliveryTally:
    """Callbacks sent and how they were answered: 202 accepted, 200 duplicate, 4xx refused, anything else failed."""

    sent: int = 0
    resent: int = 0  # callbacks the simulation delivered a second time on purpose
    outcomes: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, *, callback: SimulatedCallback, status: int | None) -> None:
        outcome = (
            "accepted" if status == 202
            else "duplicates" if status == 200
            else "refused" if status is not None and 400 <= status < 500
            else "failed"
        )  # fmt: skip
        self.sent += 1
        self.resent += callback.is_duplicate
        self.outcomes[outcome] += 1
        per_kind = self.by_kind.setdefault(callback.kind.value, Counter())
        per_kind["sent"] += 1
        per_kind[outcome] += 1

    def add(self, other: DeliveryTally) -> None:
        self.sent += other.sent
        self.resent += other.resent
        self.outcomes.update(other.outcomes)
        for kind, counts in other.by_kind.items():
            self.by_kind.setdefault(kind, Counter()).update(counts)

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            **{outcome: self.outcomes[outcome] for outcome in OUTCOMES},
            "resent": self.resent,
            "by_kind": {
                kind: {name: counts[name] for name in ("sent", *OUTCOMES)}
                for kind, counts in sorted(self.by_kind.items())
            },
        }


def traffic_deliver(
    *,
    bot: Bot,
    callbacks: Iterable[SimulatedCallback],
    post: CallbackPoster,
    each_delivery: Callable[[], AbstractContextManager[Any]] | None = None,
) -> DeliveryTally:
    """POSTs each callback to the bot's callback URL in order. `each_delivery` wraps every POST: tests pass
    `lambda: django_capture_on_commit_callbacks(execute=True)` so the work enqueued on commit runs inside their
    transaction."""
    path = reverse("groupme-callback", kwargs={"token": bot.callback_token})
    tally = DeliveryTally()
    for callback in callbacks:
        with each_delivery() if each_delivery else contextlib.nullcontext():
            status = post(path=path, payload=callback.payload)
        tally.record(callback=callback, status=status)
    return tally


def bot_traffic_simulate(
    *,
    bot: Bot,
    messages: int,
    members: int,
    days: float,
    seed: int | str,
    duplicate_rate: float = 0.03,
    end: datetime | None = None,
    base_url: str | None = None,
    regex_examples: Mapping[str, Sequence[str]] | None = None,
    each_delivery: Callable[[], AbstractContextManager[Any]] | None = None,
) -> DeliveryTally:
    """Generates the bot's traffic and delivers it: over HTTP to `base_url`, or else in this process."""
    callbacks = traffic_for_bot(
        bot=bot, messages=messages, members=members, days=days, seed=seed, duplicate_rate=duplicate_rate, end=end,
        regex_examples=regex_examples,
    )  # fmt: skip
    if base_url:
        return traffic_deliver(bot=bot, callbacks=callbacks, post=http_poster(base_url=base_url))
    return traffic_deliver(bot=bot, callbacks=callbacks, post=in_process_poster(), each_delivery=each_delivery)


# --- The GroupMe that inline replies go to ----------------------------------------------------------------------------


@contextlib.contextmanager
def groupme_for_inline_replies() -> Iterator[FakeGroupMe | None]:
    """Where this process's replies go while it simulates traffic; yields the fake GroupMe it started, if any.

    With a broker, workers post the replies to their own GROUPME_API_URL and nothing changes here. Inline (no
    broker), this process posts them: to GROUPME_API_URL when that is a GroupMe on a loopback address that answers
    (e.g. `manage.py fake_groupme`), and otherwise to a fake GroupMe started for the duration. Simulated replies
    never go to a remote GroupMe: they would be posted to real groups, or fail for the made-up bot ids of a demo.
    """
    if not celery_app.conf.task_always_eager or _loopback_groupme_answers(settings.GROUPME_API_URL):
        yield None
        return
    with FakeGroupMe() as fake, override_settings(GROUPME_API_URL=fake.base_url):
        yield fake


def _loopback_groupme_answers(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        return False
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def pipeline_logs_quieted() -> Iterator[None]:
    """A replay logs several INFO lines per message (request, processing, inline tasks); keep warnings and errors."""
    loggers = [logging.getLogger(name) for name in ("botyard", "celery.app.trace")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logging.WARNING, logger.level))
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)
