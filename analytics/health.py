"""Bot health: is each bot still hearing its group, and are its replies getting through?

`bot_health` reads every figure for all of a tenant's bots in a constant number of queries (four; three when the
bots are given): the bots, each bot's last callback and its last few finished replies, its group's messages per
hour over 7 days, and the reply parts of the last 24 hours by outcome.

A bot is *silent* when its group, going by the same hours of the day over the last 7 days, would usually have
sent at least 4 messages since the bot's last callback (and that was at least 30 minutes ago). With an even rate
this is "the gap is over 4 times the usual gap"; the hour-of-day profile keeps a group that sleeps at night from
looking silent every night, and a busy afternoon from hiding a dead callback for hours.

`bot_health_alerts_send` e-mails each tenant's owners about conditions that hold now, at most once per bot,
condition and tenant-local day: a `BotHealthAlert` row is inserted (the unique constraint is the claim) before
the e-mail goes out, and deleted again if sending fails so the next run retries.
"""

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncHour
from django.template.loader import render_to_string
from django.utils import timezone

from analytics.models import BotHealthAlert, BotHealthCondition
from bots.models import Bot, Interaction, ReplyPart
from bots.selectors import bot_list
from groups.models import Message
from tenants.models import Tenant
from tenants.selectors import tenant_owner_emails

logger = logging.getLogger("botyard.analytics")

OK, WARNING, CRITICAL = "ok", "warning", "critical"
_SEVERITY_RANK = {OK: 0, WARNING: 1, CRITICAL: 2}

RATE_WINDOW = timedelta(days=7)
CACHE_HOUR_SECONDS = 3600 + 60  # the cached hours serve until the next hour begins
REPLY_WINDOW = timedelta(hours=24)
SILENT_MIN_GAP = timedelta(minutes=30)
SILENT_EXPECTED_MESSAGES = 4.0
# Below this much history the hour-of-day profile is guesswork (some hours never observed): no verdict.
SILENT_MIN_OBSERVATION = timedelta(days=1)
SILENT_MIN_MESSAGES = 10
REPLY_MIN_SAMPLE = 5
ERROR_RATE_WARNING = 0.2
ERROR_RATE_CRITICAL = 0.5
RATE_LIMITED_WARNING = 0.1
FAILING_BOT_ID_REPLIES = 5
# What GroupMe answers to a post with a bot id it does not know (wrong, or the bot was destroyed there).
REJECTED_STATUS_CODES = (400, 404)


@dataclass(frozen=True)
class HealthCondition:
    code: str  # a BotHealthCondition value
    severity: str  # warning | critical
    detail: str  # for people; never a secret (no callback token, no GroupMe bot id)


@dataclass(frozen=True)
class BotHealth:
    bot: Bot
    status: str  # ok | warning | critical: the worst of the conditions
    conditions: tuple[HealthCondition, ...]
    # Callbacks: the gap runs from the last callback (or, before the first one, from the bot's creation).
    last_callback_at: datetime | None
    callback_gap_seconds: int
    group_messages_7d: int
    usual_gap_seconds: int | None
    expected_messages_in_gap: float | None  # None: too little history to judge
    # Reply parts updated in the last 24 hours.
    replies_finished: int
    replies_failed: int
    error_rate: float | None
    replies_attempted: int
    replies_rate_limited: int
    rate_limited_rate: float | None
    # The last FAILING_BOT_ID_REPLIES finished replies (7 days at most), and how many GroupMe rejected (400/404).
    recent_replies: int
    recent_replies_rejected: int
    breaker_open: bool
    breaker_open_until: datetime | None
    breaker_trips: int
    breaker_last_reason: str

    @property
    def condition_codes(self) -> list[str]:
        return [condition.code for condition in self.conditions]


@dataclass
class _GroupActivity:
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)  # messages per UTC hour of the day
    first_at: datetime | None = None  # the start of the UTC hour of its first message in the window

    @property
    def total(self) -> int:
        return sum(self.by_hour)


@dataclass
class _ReplyFigures:
    sent: int = 0
    failed: int = 0
    attempted: int = 0
    rate_limited: int = 0


def _seconds_per_hour_of_day(start: datetime, end: datetime) -> list[float]:
    """How many seconds of [start, end) fall in each UTC hour of the day."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    whole_days = max((end - start) // timedelta(days=1), 0)
    seconds = [whole_days * 3600.0] * 24
    cursor = start + timedelta(days=whole_days)
    while cursor < end:  # less than a day left: at most 25 steps
        stop = min(cursor.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), end)
        seconds[cursor.hour] += (stop - cursor).total_seconds()
        cursor = stop
    return seconds


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _callbacks_and_recent_replies(
    *, tenant: Tenant, bot_ids: list[Any], now: datetime
) -> tuple[dict[Any, datetime | None], dict[Any, list[bool]]]:
    """Per bot, its last callback, and its last finished replies, newest first: True where GroupMe rejected the
    post (400/404).

    One row per bot, every figure a subquery that walks one index newest first and stops after a row or a few: the
    last callback along the (tenant, -sent_at) index of messages, stopping at the bot's newest row; the n-th newest
    finished reply along the (bot, -occurred_at) index of interactions, a few rows. Neither reads the bot's history,
    where one window over all of the tenant's finished replies of 7 days read and sorted every one of them.
    """
    latest = (
        Message.objects.filter(tenant=tenant, bot_id=OuterRef("pk"), sent_at__lte=now)
        .order_by("-sent_at")
        .values("received_at")[:1]
    )
    rejected = ReplyPart.objects.filter(
        interaction=OuterRef("pk"), status=ReplyPart.Status.FAILED, last_status_code__in=REJECTED_STATUS_CODES
    )
    finished = (
        Interaction.objects.filter(
            bot_id=OuterRef("pk"),
            occurred_at__gt=now - RATE_WINDOW,
            occurred_at__lte=now,
            reply_status__in=[Interaction.ReplyStatus.SENT, Interaction.ReplyStatus.FAILED],
        )
        .order_by("-occurred_at", "-id")
        .values(was_rejected=Exists(rejected))
    )
    recent_columns = [f"recent_{n}" for n in range(FAILING_BOT_ID_REPLIES)]
    rows = (
        Bot.objects.filter(tenant=tenant, pk__in=bot_ids)
        .annotate(
            last_callback_at=Subquery(latest),
            # None where the bot has fewer finished replies in the window.
            **{
                column: Subquery(finished[n : n + 1], output_field=BooleanField())
                for n, column in enumerate(recent_columns)
            },
        )
        .values("pk", "last_callback_at", *recent_columns)
    )
    last_callbacks: dict[Any, datetime | None] = {}
    recent: dict[Any, list[bool]] = {}
    for row in rows:
        last_callbacks[row["pk"]] = row["last_callback_at"]
        recent[row["pk"]] = [bool(row[column]) for column in recent_columns if row[column] is not None]
    return last_callbacks, recent


def _activity_window_start(now: datetime) -> datetime:
    """Where the messages-per-hour window starts: 7 days before the running hour began."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - RATE_WINDOW


def _group_activity(*, tenant: Tenant, group_ids: list[Any], now: datetime) -> dict[Any, _GroupActivity]:
    """Each group's messages per UTC hour of the day, from the window's start up to `now`.

    The window's hours that are over cannot change, and reading them is most of the cost (a busy tenant's week is
    tens of thousands of messages): they are counted once per tenant and hour and kept in the cache for that hour;
    each call then counts the running hour alone. One statement either way.
    """
    hour = _activity_window_start(now) + RATE_WINDOW
    groups_digest = hashlib.sha256(",".join(sorted(str(pk) for pk in group_ids)).encode()).hexdigest()[:16]
    key = f"health:activity:{tenant.pk}:{hour:%Y%m%dT%H}:{groups_digest}"
    past: dict[Any, tuple[list[int], datetime]] | None = cache.get(key)
    since = Q(sent_at__gt=hour - RATE_WINDOW) if past is None else Q(sent_at__gte=hour)
    messages = Message.objects.filter(since, tenant=tenant, group_id__in=group_ids, sent_at__lte=now)
    # By the clock hour, not the hour of the day: the earliest hour is the observation's start, so no MIN(sent_at)
    # is kept per group and hour; the clock hours of each group fold into its 24 hours of the day here.
    rows = messages.values_list("group_id", TruncHour("sent_at", tzinfo=UTC)).annotate(n=Count("*")).order_by()
    activity: dict[Any, _GroupActivity] = defaultdict(_GroupActivity)
    running: dict[Any, int] = defaultdict(int)
    for group_id, clock_hour, n in rows:
        if clock_hour >= hour:
            running[group_id] += n
            continue
        group = activity[group_id]
        group.by_hour[clock_hour.astimezone(UTC).hour] += n
        if group.first_at is None or clock_hour < group.first_at:
            group.first_at = clock_hour
    if past is None:
        cache.set(key, {pk: (group.by_hour, group.first_at) for pk, group in activity.items()}, CACHE_HOUR_SECONDS)
    else:
        activity.update((pk, _GroupActivity(by_hour=list(by_hour), first_at=first_at))
                        for pk, (by_hour, first_at) in past.items())  # fmt: skip
    for group_id, n in running.items():
        group = activity[group_id]
        group.by_hour[hour.hour] += n
        group.first_at = group.first_at or hour
    return activity


def _reply_figures(*, tenant: Tenant, bot_ids: list[Any], now: datetime) -> dict[Any, _ReplyFigures]:
    rows = (
        ReplyPart.objects.filter(
            tenant=tenant, interaction__bot_id__in=bot_ids, updated_at__gt=now - REPLY_WINDOW, updated_at__lte=now
        )
        .values(health_bot_id=F("interaction__bot_id"))
        .annotate(
            sent=Count("id", filter=Q(status=ReplyPart.Status.SENT)),
            failed=Count("id", filter=Q(status=ReplyPart.Status.FAILED)),
            attempted=Count("id", filter=Q(attempts__gt=0)),
            # A part GroupMe finally accepted forgets its last error, so this counts the 429s still standing:
            # parts waiting out a 429, and parts that failed on one.
            rate_limited=Count("id", filter=Q(last_status_code=429)),
        )
        .order_by()
    )
    return {
        row["health_bot_id"]: _ReplyFigures(
            sent=row["sent"], failed=row["failed"], attempted=row["attempted"], rate_limited=row["rate_limited"]
        )
        for row in rows
    }


def _expected_messages(
    *, activity: _GroupActivity, gap_start: datetime, now: datetime
) -> tuple[int | None, float | None]:
    """The group's usual gap (mean over what was observed) and how many messages it would usually have sent
    between `gap_start` and `now`, from its messages per hour of the day before the gap."""
    if activity.first_at is None or activity.total == 0:
        return None, None
    observed_from = max(_activity_window_start(now), activity.first_at)
    observed = gap_start - observed_from
    if observed <= timedelta(0):
        return None, None
    usual_gap = round(observed.total_seconds() / activity.total)
    if observed < SILENT_MIN_OBSERVATION or activity.total < SILENT_MIN_MESSAGES:
        return usual_gap, None
    exposure = _seconds_per_hour_of_day(observed_from, gap_start)
    in_gap = _seconds_per_hour_of_day(gap_start, now)
    expected = sum(activity.by_hour[hour] / exposure[hour] * in_gap[hour] for hour in range(24) if exposure[hour])
    return usual_gap, round(expected, 1)


def _conditions(
    *, bot: Bot, gap: timedelta, expected: float | None, replies: _ReplyFigures, recent: list[bool], now: datetime
) -> list[HealthCondition]:
    conditions: list[HealthCondition] = []
    # An inactive bot's callbacks are refused, so its silence is expected.
    if bot.is_active and expected is not None and gap >= SILENT_MIN_GAP and expected >= SILENT_EXPECTED_MESSAGES:
        conditions.append(
            HealthCondition(
                BotHealthCondition.SILENT,
                CRITICAL,
                f"No callback from GroupMe for {_duration(gap.total_seconds())}, while the group usually sends about "
                f"{expected:.0f} messages in that time. Check the bot's callback URL at GroupMe.",
            )
        )
    finished = replies.sent + replies.failed
    error_rate = replies.failed / finished if finished else 0.0
    if finished >= REPLY_MIN_SAMPLE and error_rate >= ERROR_RATE_WARNING:
        conditions.append(
            HealthCondition(
                BotHealthCondition.ERROR_RATE,
                CRITICAL if error_rate >= ERROR_RATE_CRITICAL else WARNING,
                f"{error_rate:.0%} of reply posts failed in the last 24 hours ({replies.failed} of {finished}).",
            )
        )
    limited_rate = replies.rate_limited / replies.attempted if replies.attempted else 0.0
    if replies.attempted >= REPLY_MIN_SAMPLE and limited_rate >= RATE_LIMITED_WARNING:
        conditions.append(
            HealthCondition(
                BotHealthCondition.RATE_LIMITED,
                WARNING,
                f"GroupMe answered 429 (too many requests) to {limited_rate:.0%} of reply posts in the last 24 hours "
                f"({replies.rate_limited} of {replies.attempted}).",
            )
        )
    if bot.breaker_open_until is not None and bot.breaker_open_until > now:
        reason = f": {bot.breaker_last_reason}" if bot.breaker_last_reason else ""
        conditions.append(
            HealthCondition(
                BotHealthCondition.LOOP_BREAKER,
                WARNING,
                f"The loop breaker is open for another {_duration((bot.breaker_open_until - now).total_seconds())}"
                f"{reason} (tripped {bot.breaker_trips} times in all). The bot records messages but does not reply.",
            )
        )
    if len(recent) >= FAILING_BOT_ID_REPLIES and all(recent):
        conditions.append(
            HealthCondition(
                BotHealthCondition.FAILING_BOT_ID,
                CRITICAL,
                f"GroupMe rejected the bot's last {len(recent)} replies (HTTP 400/404): its GroupMe bot id is "
                "probably wrong, or the bot was deleted at GroupMe.",
            )
        )
    return conditions


def bot_health(*, tenant: Tenant, bots: Iterable[Bot] | None = None, now: datetime | None = None) -> list[BotHealth]:
    """The health of the tenant's bots (all of its bots unless `bots` names some of them), in input order."""
    now = now or timezone.now()
    chosen = list(bot_list(tenant=tenant).order_by("name", "pk") if bots is None else bots)
    chosen = [bot for bot in chosen if bot.tenant_id == tenant.pk]  # another tenant's bot has no health here
    if not chosen:
        return []
    bot_ids = [bot.pk for bot in chosen]
    last_callbacks, recent_replies = _callbacks_and_recent_replies(tenant=tenant, bot_ids=bot_ids, now=now)
    activity = _group_activity(tenant=tenant, group_ids=list({bot.group_id for bot in chosen}), now=now)
    reply_figures = _reply_figures(tenant=tenant, bot_ids=bot_ids, now=now)

    results = []
    for bot in chosen:
        last_callback_at = last_callbacks.get(bot.pk)
        gap_start = min(last_callback_at or bot.created_at, now)
        group = activity.get(bot.group_id, _GroupActivity())
        usual_gap, expected = _expected_messages(activity=group, gap_start=gap_start, now=now)
        replies = reply_figures.get(bot.pk, _ReplyFigures())
        recent = recent_replies.get(bot.pk, [])
        conditions = _conditions(
            bot=bot, gap=now - gap_start, expected=expected, replies=replies, recent=recent, now=now
        )
        status = max((condition.severity for condition in conditions), key=_SEVERITY_RANK.__getitem__, default=OK)
        results.append(
            BotHealth(
                bot=bot,
                status=status,
                conditions=tuple(conditions),
                last_callback_at=last_callback_at,
                callback_gap_seconds=round((now - gap_start).total_seconds()),
                group_messages_7d=group.total,
                usual_gap_seconds=usual_gap,
                expected_messages_in_gap=expected,
                replies_finished=replies.sent + replies.failed,
                replies_failed=replies.failed,
                error_rate=_rate(replies.failed, replies.sent + replies.failed),
                replies_attempted=replies.attempted,
                replies_rate_limited=replies.rate_limited,
                rate_limited_rate=_rate(replies.rate_limited, replies.attempted),
                recent_replies=len(recent),
                recent_replies_rejected=sum(recent),
                breaker_open=bot.breaker_open_until is not None and bot.breaker_open_until > now,
                breaker_open_until=bot.breaker_open_until,
                breaker_trips=bot.breaker_trips,
                breaker_last_reason=bot.breaker_last_reason,
            )
        )
    return results


# --- Alerts ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotHealthAlertReport:
    tenants: int
    alerts_sent: int
    emails_sent: int
    emails_failed: int


@dataclass(frozen=True)
class _Alert:
    health: BotHealth
    condition: HealthCondition
    claim: BotHealthAlert


def bot_health_alerts_send(*, now: datetime | None = None) -> BotHealthAlertReport:
    """E-mails the owners of every active tenant about bot conditions not yet reported on the tenant-local day.

    Idempotent: a second run (or one running at the same time) finds the claims and sends nothing again.
    """
    now = now or timezone.now()
    tenants = alerts_sent = emails_sent = emails_failed = 0
    for tenant in Tenant.objects.filter(is_active=True).order_by("pk"):
        tenants += 1
        sent = _tenant_alerts_send(tenant=tenant, now=now)
        if sent is None:
            emails_failed += 1
        elif sent:
            alerts_sent += sent
            emails_sent += 1
    report = BotHealthAlertReport(
        tenants=tenants, alerts_sent=alerts_sent, emails_sent=emails_sent, emails_failed=emails_failed
    )
    logger.info("bot health alerts", extra=vars(report))
    return report


def _tenant_alerts_send(*, tenant: Tenant, now: datetime) -> int | None:
    """How many alerts one e-mail to the tenant's owners carried (0: nothing new); None when sending failed."""
    local_day = now.astimezone(tenant.time_zone).date()
    # Deactivating a bot is how a tenant says it does not care about it for now.
    candidates = [
        (health, condition)
        for health in bot_health(tenant=tenant, now=now)
        if health.bot.is_active
        for condition in health.conditions
    ]
    if not candidates:
        return 0
    already = set(BotHealthAlert.objects.filter(tenant=tenant, local_day=local_day).values_list("bot_id", "condition"))
    candidates = [
        (health, condition) for health, condition in candidates if (health.bot.pk, condition.code) not in already
    ]
    if not candidates:
        return 0
    recipients = tenant_owner_emails(tenant=tenant)
    if not recipients:
        return 0  # nothing is claimed, so an owner added later today still hears of it

    alerts: list[_Alert] = []
    for health, condition in candidates:
        try:
            with transaction.atomic():
                claim = BotHealthAlert.objects.create(
                    tenant=tenant, bot=health.bot, condition=condition.code, local_day=local_day, sent_at=now
                )
        except IntegrityError:
            continue  # a concurrent run claimed it and sends it
        alerts.append(_Alert(health=health, condition=condition, claim=claim))
    if not alerts:
        return 0
    try:
        _alert_email_send(tenant=tenant, alerts=alerts, recipients=recipients, now=now)
    except Exception:
        # Give the claims back so the next run tries again rather than never telling anyone.
        BotHealthAlert.objects.filter(pk__in=[alert.claim.pk for alert in alerts]).delete()
        logger.exception("bot health alert failed", extra={"tenant": tenant.slug, "alerts": len(alerts)})
        return None
    return len(alerts)


def _alert_email_send(*, tenant: Tenant, alerts: list[_Alert], recipients: list[str], now: datetime) -> None:
    alerts = sorted(alerts, key=lambda alert: (-_SEVERITY_RANK[alert.condition.severity], alert.health.bot.name))
    context = {
        "tenant": tenant,
        # Formatted here: the template engine would show an aware datetime in the server's zone.
        "local_time": f"{now.astimezone(tenant.time_zone):%Y-%m-%d %H:%M} ({tenant.time_zone})",
        "alerts": [
            {
                "bot_name": alert.health.bot.name,
                "condition": BotHealthCondition(alert.condition.code).label,
                "severity": alert.condition.severity,
                "detail": alert.condition.detail,
            }
            for alert in alerts
        ],
        "dashboard_url": f"{settings.PUBLIC_BASE_URL}/t/{tenant.slug}/",
    }
    tenant_name = " ".join(tenant.name.split())  # a header may not contain a line break
    noun = "problem" if len(alerts) == 1 else "problems"
    send_mail(
        subject=f"[Botyard] {tenant_name}: {len(alerts)} bot health {noun}",
        message=render_to_string("analytics/email/bot_health_alert.txt", context),
        from_email=None,
        recipient_list=recipients,
    )
