"""Synthetic KPI history for one tenant, loaded with COPY: messages, interactions, clicks, conversions, members.

Used by bench/kpi_aggregation.py. Rows are written as COPY text (tab-separated, NULL as \\N) on one connection
per table, all streams open at once, so PostgreSQL's backends consume while Python produces. Column names come
from the models (`_meta.db_table`, field `.column`): a renamed column fails loudly, not silently.

The loader connections set `session_replication_role = replica`: foreign-key triggers do not fire (the generator
writes consistent ids itself), which is what a restore does; the tables' indexes are maintained as usual.
Ids are time-ordered (48-bit millisecond prefix, random tail), like the project's uuid7 defaults.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

MESSAGE_FIELDS = (
    "id", "tenant", "created_at", "group", "bot", "member", "groupme_message_id", "sender_type", "sender_id",
    "sender_name", "text", "attachments", "is_system", "event", "sent_at", "received_at", "processed_at",
    "has_interaction",
)  # fmt: skip
INTERACTION_FIELDS = (
    "id", "tenant", "created_at", "bot", "group", "member", "message", "message_text", "intent", "sentiment", "rule",
    "handled", "reply_text", "reply_status", "response_time_ms", "occurred_at",
)  # fmt: skip
CLICK_FIELDS = (
    "id", "tenant", "created_at", "link", "interaction", "clicked_at", "user_agent", "visitor_hash", "is_bot",
)  # fmt: skip
CONVERSION_FIELDS = (
    "id", "tenant", "created_at", "source", "interaction", "attributed_click", "click_id", "outcome", "amount",
    "currency", "external_id", "occurred_at", "via", "attribution", "human_click_at",
)  # fmt: skip
MEMBER_FIELDS = (
    "id", "tenant", "created_at", "group", "groupme_user_id", "nickname", "avatar_url", "first_seen_at",
    "last_seen_at", "message_count", "engagement_score", "is_present", "opted_out_at",
)  # fmt: skip
INTENTS = ("price", "help", "schedule", "deal", "weather", "joke")
NULL = "\\N"


def copy_statement(model: Any, names: tuple[str, ...]) -> str:
    columns = ", ".join(model._meta.get_field(name).column for name in names)
    return f"COPY {model._meta.db_table} ({columns}) FROM STDIN"


@dataclass
class Shape:
    """What to generate: per interaction one message plus `chatter` other messages; shares of clicks, conversions."""

    interactions: int
    days: int = 365
    chatter: float = 1.0
    click_share: float = 0.05
    conversion_share: float = 0.20  # of human clicks
    busy_day_messages: int = 100_000  # one day of history this large (interactions + chatter)
    busy_day_ago: int = 30
    groups: int = 4
    members_per_group: int = 500
    seed: int = 5


@dataclass
class Ids:
    tenant: str
    bots: list[tuple[str, str]]  # (bot id, group id)
    link: str
    source: str
    members: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # group id -> [(member id, user id)]


@dataclass
class Counts:
    messages: int = 0
    interactions: int = 0
    clicks: int = 0
    conversions: int = 0
    members: int = 0


class Generator:
    def __init__(self, shape: Shape, ids: Ids, zone: ZoneInfo) -> None:
        self.shape, self.ids, self.zone = shape, ids, zone
        self.random = random.Random(f"{shape.seed}-{ids.tenant}")  # noqa: S311 - bench data; two tenants never share ids
        self.sequence = 0
        self.counts = Counts()

    def uuid(self, epoch: float) -> str:
        return f"{int(epoch * 1000) & 0xFFFFFFFFFFFF:012x}{self.random.getrandbits(80):020x}"

    def members_rows(self, first_seen: float) -> Iterator[str]:
        stamp = _iso(first_seen)
        for _bot, group in self.ids.bots:
            members = self.ids.members.setdefault(group, [])
            for n in range(self.shape.members_per_group):
                member_id, user_id = self.uuid(first_seen), f"{group[-6:]}{n:05d}"
                members.append((member_id, user_id))
                self.counts.members += 1
                yield "\t".join((
                    member_id, self.ids.tenant, stamp, group, user_id, f"Member {n}", "", stamp, stamp, "0", "0",
                    "t", NULL,
                )) + "\n"  # fmt: skip

    def day_plan(self, today: date) -> list[tuple[date, int, int]]:
        """(day, interactions, chatter messages) for each day of history, oldest first; today excluded."""
        shape = self.shape
        busy_interactions = int(shape.busy_day_messages / (1 + shape.chatter))
        rest = max(0, shape.interactions - busy_interactions)
        per_day = rest / max(1, shape.days - 1)
        plan = []
        for ago in range(shape.days, 0, -1):
            day = today - timedelta(days=ago)
            if ago == shape.busy_day_ago:
                n = busy_interactions
            else:
                weekday_factor = 1.25 if day.weekday() < 5 else 0.4  # busier on weekdays, mean ~1
                n = max(0, int(per_day * weekday_factor / (5 * 1.25 + 2 * 0.4) * 7 + self.random.random()))
            plan.append((day, n, int(n * shape.chatter)))
        return plan

    def day_rows(
        self, day: date, interactions: int, chatter: int, *, written_at: float | None = None
    ) -> tuple[list[str], list[str], list[str], list[str]]:
        """The rows of one tenant-local day. `written_at`: created_at/received_at of every row (a late load);
        otherwise rows are written a second after they happened, as ingest does."""
        rnd, ids = self.random, self.ids
        start = datetime.combine(day, time.min, tzinfo=self.zone).timestamp()
        length = datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.zone).timestamp() - start
        messages: list[str] = []
        interaction_rows: list[str] = []
        clicks: list[str] = []
        conversions: list[str] = []
        total = interactions + chatter
        moments = sorted(start + rnd.random() * length for _ in range(total))
        kinds = [True] * interactions + [False] * chatter
        rnd.shuffle(kinds)
        for sent, is_interaction in zip(moments, kinds, strict=True):
            bot, group = ids.bots[int(rnd.random() ** 1.6 * len(ids.bots))]  # some bots busier than others
            members = ids.members[group]
            member, user_id = members[int(rnd.random() ** 2 * len(members))]
            received = written_at if written_at is not None else sent + 0.3 + rnd.random()
            self.sequence += 1
            message_id = self.uuid(sent)
            system = not is_interaction and rnd.random() < 0.01
            text = f"!{rnd.choice(INTENTS)} please" if is_interaction else "sounds good, see you there"
            messages.append("\t".join((
                message_id, ids.tenant, _iso(received), group, bot, NULL if system else member,
                str(100_000_000_000 + self.sequence), "system" if system else "user", "system" if system else user_id,
                "GroupMe" if system else f"Member {user_id[-5:]}", text, "[]", "t" if system else "f", NULL,
                _iso(sent), _iso(received), _iso(received + 0.05), "t" if is_interaction else "f",
            )) + "\n")  # fmt: skip
            self.counts.messages += 1
            if not is_interaction:
                continue
            handled = rnd.random() < 0.92
            roll = rnd.random()
            status = ("sent" if roll < 0.97 else "failed") if handled else ("none" if roll < 0.7 else "sent")
            response = str(int(rnd.lognormvariate(math.log(450), 0.6))) if status == "sent" else NULL
            sentiment = max(-1.0, min(1.0, rnd.gauss(0.15, 0.4)))
            interaction_id = self.uuid(sent)
            intent = text[1:].split()[0] if handled else ""
            interaction_rows.append("\t".join((
                interaction_id, ids.tenant, _iso(received), bot, group, member, message_id, text, intent,
                f"{sentiment:.4f}", NULL, "t" if handled else "f",
                "Here you go: https://by.example/x" if status == "sent" else "", status, response, _iso(sent),
            )) + "\n")  # fmt: skip
            self.counts.interactions += 1
            if status != "sent" or rnd.random() >= self.shape.click_share:
                continue
            clicked = sent + rnd.expovariate(1 / 600)
            click_written = written_at if written_at is not None else clicked + 0.1
            is_bot = rnd.random() < 0.1
            click_id = self.uuid(clicked)
            clicks.append("\t".join((
                click_id, ids.tenant, _iso(click_written), ids.link, interaction_id, _iso(clicked),
                "facebookexternalhit/1.1" if is_bot else "Mozilla/5.0 (iPhone)", f"{rnd.getrandbits(64):016x}",
                "t" if is_bot else "f",
            )) + "\n")  # fmt: skip
            self.counts.clicks += 1
            if is_bot or rnd.random() >= self.shape.conversion_share:
                continue
            occurred = clicked + rnd.expovariate(1 / 3600)
            roll = rnd.random()
            outcome = "purchase" if roll < 0.6 else ("signup" if roll < 0.9 else "refund")
            amount = {"purchase": rnd.randint(500, 5000), "signup": 0, "refund": -rnd.randint(500, 5000)}[outcome]
            conversions.append("\t".join((
                self.uuid(occurred), ids.tenant, _iso(written_at if written_at is not None else occurred + 0.2),
                ids.source, interaction_id, click_id, click_id, outcome, str(amount), "USD",
                f"txn_{self.sequence}_{rnd.getrandbits(32):08x}", _iso(occurred), "postback",
                '{"rule": "click_id"}', _iso(clicked),
            )) + "\n")  # fmt: skip
            self.counts.conversions += 1
        return messages, interaction_rows, clicks, conversions


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=ZoneInfo("UTC")).isoformat()


def load(
    database_url: str,
    generator: Generator,
    days: list[tuple[date, int, int]],
    *,
    written_at: float | None = None,
    with_members: bool = False,
    member_since: float = 0.0,
) -> None:
    """COPY the given days (and first the members) in one transaction per table, streams open together."""
    import psycopg

    from bots.models import Interaction
    from groups.models import Member, Message
    from monetization.models import Click, Conversion

    tables = (
        (Message, MESSAGE_FIELDS), (Interaction, INTERACTION_FIELDS), (Click, CLICK_FIELDS),
        (Conversion, CONVERSION_FIELDS),
    )  # fmt: skip
    if with_members:
        with psycopg.connect(database_url) as connection:
            connection.execute("SET session_replication_role = replica")
            with connection.cursor().copy(copy_statement(Member, MEMBER_FIELDS)) as copy:
                copy.write("".join(generator.members_rows(member_since)))
    connections = [psycopg.connect(database_url) for _ in tables]
    try:
        for connection in connections:
            connection.execute("SET session_replication_role = replica")
        copies = [
            connection.cursor().copy(copy_statement(model, names))
            for connection, (model, names) in zip(connections, tables, strict=True)
        ]
        streams = [copy.__enter__() for copy in copies]
        for day, interactions, chatter in days:
            for stream, rows in zip(
                streams, generator.day_rows(day, interactions, chatter, written_at=written_at), strict=True
            ):
                if rows:
                    stream.write("".join(rows))
        for copy in copies:
            copy.__exit__(None, None, None)
        for connection in connections:
            connection.commit()
    finally:
        for connection in connections:
            connection.close()
