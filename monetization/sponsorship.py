"""Sponsored messages: a sponsor's creatives, appended to bot replies or posted on a schedule, always disclosed.

Daily caps are per creative, per group, per day in the tenant's time zone. They are counted under one row lock:
the group's row (`select_for_update`). Message processing already updates that row (its message counter) in the
same transaction, so the lock adds no new wait to replies, and it is the only lock taken here, so there is no lock
order to get wrong. Two replies in the same group, or a reply and a scheduled post, decide one after the other;
replies in different groups never wait for each other. A scheduled post is also claimed by a unique row per
(creative, group, local date, slot) before it is posted, so it goes out once however often its task runs.
"""

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypedDict
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from bots import groupme
from bots.models import Bot, Interaction
from bots.outbox import ECHO_WAIT
from bots.selectors import bot_post_echoed_at
from groups.models import Group, Member
from monetization.models import Click, Conversion, Creative, Link, MonetizationSource, SponsoredImpression
from monetization.services import interaction_link_url
from tenants.models import Tenant

logger = logging.getLogger("botyard.monetization")

DEFAULT_DISCLOSURE = "#ad"
# Beat runs every 5 minutes; looking back over two runs means a late or skipped run loses no slot. The claim row
# makes the overlap harmless.
SCHEDULE_LOOKBACK = timedelta(minutes=10)
STALE_CLAIM = timedelta(minutes=5)  # a post "sending" this long belongs to a worker that died
PENDING_GRACE = timedelta(minutes=2)  # longer than the longest backoff: a pending post this old lost its task
MAX_PERIOD_DAYS = 366
_POST_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_QUIET_INTENTS = ("optout", "optin")  # privacy confirmations carry no advertising
SPONSORSHIP = MonetizationSource.Kind.SPONSORSHIP


# --- Creatives -------------------------------------------------------------------------------------------------------

CREATIVE_FIELDS = ("source", "name", "text", "link", "starts_at", "ends_at", "daily_cap_per_group", "mode",
                   "post_times", "is_active")  # fmt: skip


def post_times_clean(value: Any) -> list[str]:
    """Distinct "HH:MM" times (24-hour clock), sorted."""
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValidationError({"post_times": 'A list of "HH:MM" times, e.g. ["09:00", "17:30"].'})
    bad = [item for item in value if not _POST_TIME.fullmatch(item.strip())]
    if bad:
        raise ValidationError({"post_times": f'Not a "HH:MM" time of day (00:00 to 23:59): {", ".join(bad)}.'})
    return sorted({item.strip() for item in value})


def _creative_clean(*, tenant_id: Any, fields: dict[str, Any], groups: Iterable[Group] | None) -> dict[str, Any]:
    """Every rule of a creative, on the merged state (the creative's current values plus the changes)."""
    cleaned = dict(fields)
    errors: dict[str, str] = {}
    source = cleaned.get("source")
    if source is None or source.tenant_id != tenant_id:
        errors["source"] = "No such source."
    elif source.kind != SPONSORSHIP:
        errors["source"] = "Creatives belong to a sponsorship source; this one is not."
    link = cleaned.get("link")
    if link is not None and link.tenant_id != tenant_id:
        errors["link"] = "No such link."
    cleaned["text"] = str(cleaned.get("text") or "").strip()
    if not cleaned["text"]:
        errors["text"] = "A creative needs its text."
    elif len(cleaned["text"]) > 500:
        errors["text"] = "At most 500 characters."
    try:
        cleaned["post_times"] = post_times_clean(cleaned.get("post_times") or [])
    except ValidationError as exc:
        errors.update({name: messages[0] for name, messages in exc.message_dict.items()})
    if cleaned.get("mode") == Creative.Mode.SCHEDULED and not cleaned.get("post_times") and "post_times" not in errors:
        errors["post_times"] = "A scheduled creative needs at least one post time."
    if cleaned.get("mode") not in Creative.Mode.values:
        errors["mode"] = f"One of {', '.join(Creative.Mode.values)}."
    cap = cleaned.get("daily_cap_per_group")
    if cap is not None and cap < 1:
        errors["daily_cap_per_group"] = "At least 1; deactivate the creative to pause it."
    starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
    if starts_at and ends_at and ends_at <= starts_at:
        errors["ends_at"] = "After starts_at."
    if groups is not None and any(group.tenant_id != tenant_id for group in groups):
        errors["groups"] = "No such group."
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def creative_create(
    *, tenant: Tenant, source: MonetizationSource, text: str, groups: Sequence[Group] = (), **fields: Any
) -> Creative:
    unknown = set(fields) - set(CREATIVE_FIELDS)
    if unknown:
        raise TypeError(f"unexpected creative fields: {sorted(unknown)}")
    defaults = {"mode": Creative.Mode.REPLY, "starts_at": timezone.now(), "daily_cap_per_group": 3}
    cleaned = _creative_clean(
        tenant_id=tenant.pk, fields={**defaults, **fields, "source": source, "text": text}, groups=groups
    )
    creative = Creative.objects.create(tenant=tenant, **cleaned)
    creative.groups.set(groups)
    return creative


@transaction.atomic
def creative_update(*, creative: Creative, groups: Sequence[Group] | None = None, **fields: Any) -> Creative:
    unknown = set(fields) - set(CREATIVE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    merged = {name: getattr(creative, name) for name in CREATIVE_FIELDS} | fields
    cleaned = _creative_clean(tenant_id=creative.tenant_id, fields=merged, groups=groups)
    for name, value in cleaned.items():
        setattr(creative, name, value)
    creative.save()
    if groups is not None:
        creative.groups.set(groups)
    return creative


def creative_delete(*, creative: Creative) -> None:
    if creative.impressions.exists():
        raise ValidationError("This creative has impressions, which reports must keep; deactivate it instead.")
    creative.delete()


def creative_list(*, tenant: Tenant) -> QuerySet[Creative]:
    creatives: QuerySet[Creative] = (
        Creative.objects.for_tenant(tenant).select_related("source", "link").prefetch_related("groups")
    )
    return creatives


# --- The sponsored line ----------------------------------------------------------------------------------------------


def disclosure_for(tenant: Tenant) -> str:
    """The tenant's wording, never nothing: every sponsored line is marked."""
    return (tenant.ad_disclosure or "").strip() or DEFAULT_DISCLOSURE


def sponsored_text(*, creative: Creative, disclosure: str, url: str) -> str:
    """'#ad Lakeside Outfitters: 20% off kayaks https://…/l/abc': the disclosure, who pays, the offer, the link."""
    line = f"{disclosure} {creative.source.name}: {creative.text}"
    return f"{line} {url}" if url else line


def _link_url(link: Link) -> str:
    """A link's own short URL: clicks on it are not tied to an interaction (scheduled posts answer no one)."""
    return f"{settings.PUBLIC_BASE_URL}/l/{link.code}"


def _live_creatives(*, tenant_id: Any, group_id: Any, mode: str, at: datetime) -> QuerySet[Creative]:
    """Creatives that may be shown in the group at `at`: active, in their dates, aimed at the group (or at all)."""
    targets = Creative.groups.through.objects.filter(creative_id=OuterRef("pk"))
    return (
        Creative.objects.filter(
            tenant_id=tenant_id,
            mode=mode,
            is_active=True,
            starts_at__lte=at,
            source__kind=SPONSORSHIP,
            source__is_active=True,
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=at))
        .filter(~Exists(targets) | Exists(targets.filter(group_id=group_id)))
    )


def _shown_on(*, group_id: Any, local_date: date, creative_ids: Iterable[Any]) -> dict[Any, int]:
    """Impressions per creative in the group on the local day; a post that failed was not seen and does not count."""
    rows = (
        SponsoredImpression.objects.filter(group_id=group_id, local_date=local_date, creative_id__in=creative_ids)
        .exclude(status=SponsoredImpression.Status.FAILED)
        .values("creative_id")
        .annotate(shown=Count("pk"))
    )
    return {row["creative_id"]: row["shown"] for row in rows}


def sponsored_line_for_reply(*, interaction: Interaction, member: Member | None) -> str:
    """The disclosed sponsored line to append to the interaction's reply, with its impression recorded; "" if none.

    Rotation: of the reply-mode creatives live in the group, the one shown least there today (the tenant's day of
    the interaction), oldest first on a tie; creatives at their daily cap are skipped. Opted-out or unknown members
    get nothing. Meant to run inside message processing's transaction; it never raises for ordinary data, and a
    failure here costs the line, not the reply.
    """
    if member is None or member.is_opted_out or interaction.intent in _QUIET_INTENTS:
        return ""
    try:
        with transaction.atomic():  # a savepoint: on any error the reply goes out without the line
            return _sponsored_line_record(interaction=interaction)
    except Exception:
        logger.exception("sponsored line skipped", extra={"interaction": str(interaction.pk)})
        return ""


def _sponsored_line_record(*, interaction: Interaction) -> str:
    at = interaction.occurred_at
    candidates = list(
        _live_creatives(tenant_id=interaction.tenant_id, group_id=interaction.group_id, mode=Creative.Mode.REPLY, at=at)
        .select_related("source", "link", "tenant")
        .order_by("created_at", "pk")
    )
    if not candidates:
        return ""
    tenant = candidates[0].tenant
    local_date = at.astimezone(tenant.time_zone).date()
    # The cap lock (see the module's docstring); it also reads the member count as of now.
    group = Group.objects.select_for_update().only("pk", "member_count").get(pk=interaction.group_id)
    shown = _shown_on(group_id=group.pk, local_date=local_date, creative_ids=[creative.pk for creative in candidates])
    open_creatives = [creative for creative in candidates if shown.get(creative.pk, 0) < creative.daily_cap_per_group]
    if not open_creatives:
        return ""
    creative = min(open_creatives, key=lambda candidate: shown.get(candidate.pk, 0))  # min keeps the oldest on ties
    url = interaction_link_url(interaction=interaction, link=creative.link) if creative.link else ""
    line = sponsored_text(creative=creative, disclosure=disclosure_for(tenant), url=url)
    SponsoredImpression.objects.create(
        tenant_id=interaction.tenant_id, creative=creative, group_id=group.pk, interaction=interaction,
        local_date=local_date, sent_at=timezone.now(), member_count=group.member_count, text=line,
        status=SponsoredImpression.Status.SENT,
    )  # fmt: skip
    return line


def sponsored_lines_not_shown(*, tenant_id: Any, interaction_id: Any) -> int:
    """A reply that finally failed: the sponsor's line it carried was never shown, so its impression is failed (not
    counted, and no longer holding a place under the day's cap). How many were."""
    return SponsoredImpression.objects.filter(
        tenant_id=tenant_id, interaction_id=interaction_id, status=SponsoredImpression.Status.SENT
    ).update(status=SponsoredImpression.Status.FAILED, updated_at=timezone.now())


# --- Scheduled posts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueSlot:
    tenant_id: UUID
    creative_id: UUID
    group_id: UUID
    local_date: date
    slot: str


def _slot_instant(*, local_date: date, slot: str, zone: Any) -> datetime:
    hour, minute = (int(part) for part in slot.split(":"))
    # A time skipped by a DST change (02:30 in spring) reads as the same wall time before it, i.e. an hour later.
    return datetime.combine(local_date, time(hour, minute), tzinfo=zone)


def _bot_usable(bot: Bot | None, *, now: datetime) -> bool:
    return (
        bot is not None and bot.is_active and bot.deleted_at is None and bool(bot.groupme_bot_id)
        and not (bot.breaker_open_until is not None and bot.breaker_open_until > now)
    )  # fmt: skip


def _live_bots(*, tenant_ids: Iterable[Any], now: datetime) -> dict[tuple[Any, Any], Bot]:
    """(tenant id, group id) -> the group's bot, for bots that may post now."""
    bots = Bot.objects.filter(tenant_id__in=list(tenant_ids), is_active=True, deleted_at__isnull=True)
    return {(bot.tenant_id, bot.group_id): bot for bot in bots if _bot_usable(bot, now=now)}


def sponsored_posts_due(*, now: datetime, lookback: timedelta = SCHEDULE_LOOKBACK) -> list[DueSlot]:
    """Slots whose post time (tenant's zone) fell in (now - lookback, now] and that nobody has claimed yet.

    Groups without a bot that may post (none, inactive, deleted, loop breaker open) are left out; within the
    lookback they are found again once the bot can post.
    """
    earliest = now - lookback
    creatives = list(
        Creative.objects.filter(
            mode=Creative.Mode.SCHEDULED,
            is_active=True,
            starts_at__lte=now,
            tenant__is_active=True,
            source__kind=SPONSORSHIP,
            source__is_active=True,
        )
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=earliest))
        .select_related("tenant")
        .prefetch_related("groups")
    )
    if not creatives:
        return []
    bots = _live_bots(tenant_ids={creative.tenant_id for creative in creatives}, now=now)
    candidates: list[DueSlot] = []
    for creative in creatives:
        zone = creative.tenant.time_zone
        targeted = {group.pk for group in creative.groups.all()}
        group_ids = [group_id for tenant_id, group_id in bots
                     if tenant_id == creative.tenant_id and (not targeted or group_id in targeted)]  # fmt: skip
        days = sorted({earliest.astimezone(zone).date(), now.astimezone(zone).date()})
        for local_date in days:
            for slot in creative.post_times:
                instant = _slot_instant(local_date=local_date, slot=slot, zone=zone)
                in_dates = creative.starts_at <= instant and (creative.ends_at is None or instant < creative.ends_at)
                if earliest < instant <= now and in_dates:
                    candidates += [DueSlot(creative.tenant_id, creative.pk, group_id, local_date, slot)
                                   for group_id in group_ids]  # fmt: skip
    if not candidates:
        return []
    claimed = set(
        SponsoredImpression.objects.filter(
            creative_id__in={due.creative_id for due in candidates},
            local_date__in={due.local_date for due in candidates},
        )
        .exclude(slot="")
        .values_list("creative_id", "group_id", "local_date", "slot")
    )
    return [due for due in candidates if (due.creative_id, due.group_id, due.local_date, due.slot) not in claimed]


def sponsored_posts_unfinished(*, now: datetime) -> list[DueSlot]:
    """Claimed posts whose task was lost (pending too long, sending by a worker that died, uncertain past the echo
    wait), to send again.

    A dead worker's claim may have reached GroupMe: it becomes uncertain (its claim time kept), so the next task
    looks for GroupMe's echo of it before posting again; the attempts count still bounds them.
    """
    lost = (
        Q(status=SponsoredImpression.Status.PENDING, updated_at__lt=now - PENDING_GRACE)
        | Q(status=SponsoredImpression.Status.SENDING, updated_at__lt=now - STALE_CLAIM)
        | Q(status=SponsoredImpression.Status.UNCERTAIN, updated_at__lt=now - ECHO_WAIT)
    )
    rows = list(
        SponsoredImpression.objects.exclude(slot="")
        .filter(lost)
        .order_by("updated_at")
        .values_list("pk", "tenant_id", "creative_id", "group_id", "local_date", "slot")[:500]
    )
    SponsoredImpression.objects.filter(
        pk__in=[row[0] for row in rows], status=SponsoredImpression.Status.SENDING, updated_at__lt=now - STALE_CLAIM
    ).update(status=SponsoredImpression.Status.UNCERTAIN)
    return [DueSlot(*row[1:]) for row in rows]


class SponsoredPostRetryLater(Exception):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _post_claim(
    *, tenant_id: Any, creative_id: Any, group_id: Any, local_date: date, slot: str, now: datetime
) -> tuple[SponsoredImpression | None, str]:
    """Creates the slot's impression row (pending) if the creative may post there now; (row, "") or (None, why)."""
    with transaction.atomic():
        group = Group.objects.select_for_update().filter(tenant_id=tenant_id, pk=group_id).first()
        if group is None:
            return None, "no such group"
        existing = SponsoredImpression.objects.filter(
            creative_id=creative_id, group_id=group_id, local_date=local_date, slot=slot
        ).first()
        if existing is not None:
            return existing, ""
        tenant = Tenant.objects.get(pk=tenant_id)
        instant = _slot_instant(local_date=local_date, slot=slot, zone=tenant.time_zone)
        creative = (
            _live_creatives(tenant_id=tenant_id, group_id=group_id, mode=Creative.Mode.SCHEDULED, at=instant)
            .select_related("source", "link")
            .filter(pk=creative_id)
            .first()
        )
        if creative is None or slot not in creative.post_times:
            return None, "the creative does not post in this group at this time"
        bot = Bot.objects.filter(tenant_id=tenant_id, group_id=group_id, deleted_at__isnull=True).first()
        if not _bot_usable(bot, now=now):
            return None, "the group has no bot that may post"
        if _shown_on(group_id=group_id, local_date=local_date, creative_ids=[creative_id]).get(creative.pk, 0) >= (
            creative.daily_cap_per_group
        ):
            return None, "daily cap reached"
        line = sponsored_text(
            creative=creative, disclosure=disclosure_for(tenant), url=_link_url(creative.link) if creative.link else ""
        )
        try:
            with transaction.atomic():
                impression = SponsoredImpression.objects.create(
                    tenant_id=tenant_id, creative=creative, group=group, local_date=local_date, slot=slot,
                    sent_at=now, member_count=group.member_count, text=line,
                    status=SponsoredImpression.Status.PENDING,
                )  # fmt: skip
        except IntegrityError:  # claimed by a concurrent run between our read and insert
            impression = SponsoredImpression.objects.get(
                creative_id=creative_id, group_id=group_id, local_date=local_date, slot=slot
            )
    return impression, ""


def sponsored_post_send(*, tenant_id: Any, creative_id: Any, group_id: Any, local_date: date | str, slot: str) -> str:
    """Posts one scheduled slot through the group's bot, once; returns the impression's status or why it did not.

    The impression row is the claim: created pending, moved to sending by a conditional UPDATE (so two workers
    never post it together), then sent, or back to pending on 429/5xx (SponsoredPostRetryLater), or uncertain when
    the post left and no answer came (settled by GroupMe's echo of it, else posted again after ECHO_WAIT), or
    failed when GroupMe refuses it or the attempts run out. A failed post stays, marked, and is never retried.
    """
    day = date.fromisoformat(local_date) if isinstance(local_date, str) else local_date
    now = timezone.now()
    impression, reason = _post_claim(
        tenant_id=tenant_id, creative_id=creative_id, group_id=group_id, local_date=day, slot=slot, now=now
    )
    if impression is None:
        logger.info("sponsored post skipped", extra={"creative": str(creative_id), "reason": reason})
        return f"skipped: {reason}"
    if impression.status in (SponsoredImpression.Status.SENT, SponsoredImpression.Status.FAILED):
        return impression.status
    max_attempts = settings.BOTS_REPLY_MAX_RETRIES + 1
    if impression.attempts >= max_attempts:
        sponsored_post_give_up(impression_id=impression.pk, reason=f"gave up after {impression.attempts} tries")
        return SponsoredImpression.Status.FAILED
    bot = Bot.objects.filter(tenant_id=tenant_id, group_id=group_id, deleted_at__isnull=True).first()
    if bot is None or not _bot_usable(bot, now=now):
        sponsored_post_give_up(impression_id=impression.pk, reason="the group's bot can no longer post")
        return SponsoredImpression.Status.FAILED
    claimable = SponsoredImpression.Status.PENDING
    if impression.status == SponsoredImpression.Status.UNCERTAIN:
        echoed_at = bot_post_echoed_at(
            tenant_id=tenant_id, group_id=group_id, text=impression.text, since=impression.updated_at
        )
        if echoed_at is not None:
            return _impression_sent(impression_id=impression.pk, group_id=group_id, sent_at=echoed_at, slot=slot)
        wait = (impression.updated_at + ECHO_WAIT - timezone.now()).total_seconds()
        if wait > 0:
            raise SponsoredPostRetryLater("waiting for GroupMe's echo of a post that got no answer", retry_after=wait)
        claimable = SponsoredImpression.Status.UNCERTAIN  # no echo: GroupMe never had it
    claimed = SponsoredImpression.objects.filter(pk=impression.pk, status=claimable).update(
        status=SponsoredImpression.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    if not claimed:
        return SponsoredImpression.Status.SENDING  # another worker holds it
    try:
        groupme.bot_post(bot_id=bot.groupme_bot_id or "", text=impression.text)
    except groupme.GroupMeOutcomeUnknownError as exc:
        # Posting again now could show the group the sponsor's line twice: wait for GroupMe's echo of it instead.
        _impression_update(impression.pk, status=SponsoredImpression.Status.UNCERTAIN, error=exc)
        raise SponsoredPostRetryLater(str(exc), retry_after=ECHO_WAIT.total_seconds()) from exc
    except groupme.GroupMeRetryableError as exc:
        _impression_update(impression.pk, status=SponsoredImpression.Status.PENDING, error=exc)
        raise SponsoredPostRetryLater(str(exc), retry_after=exc.retry_after) from exc
    except groupme.GroupMeRejectedError as exc:
        _impression_update(impression.pk, status=SponsoredImpression.Status.FAILED, error=exc)
        return SponsoredImpression.Status.FAILED
    return _impression_sent(impression_id=impression.pk, group_id=group_id, sent_at=timezone.now(), slot=slot)


def _impression_sent(*, impression_id: Any, group_id: Any, sent_at: datetime, slot: str) -> str:
    member_count = Group.objects.filter(pk=group_id).values_list("member_count", flat=True).first() or 0
    SponsoredImpression.objects.filter(pk=impression_id).update(
        status=SponsoredImpression.Status.SENT, sent_at=sent_at, member_count=member_count,
        last_status_code=None, last_error="", updated_at=timezone.now(),
    )  # fmt: skip
    logger.info("sponsored post sent", extra={"impression": str(impression_id), "group": str(group_id), "slot": slot})
    return SponsoredImpression.Status.SENT


def _impression_update(impression_id: Any, *, status: str, error: groupme.GroupMeError) -> None:
    SponsoredImpression.objects.filter(pk=impression_id).update(
        status=status, last_status_code=error.status_code, last_error=str(error)[:255], updated_at=timezone.now()
    )


def sponsored_post_give_up(*, impression_id: Any, reason: str) -> None:
    """Marks an unsent post failed, visibly; the row stays so the slot is never posted again."""
    SponsoredImpression.objects.filter(
        pk=impression_id,
        status__in=[
            SponsoredImpression.Status.PENDING,
            SponsoredImpression.Status.SENDING,
            SponsoredImpression.Status.UNCERTAIN,
        ],
    ).update(status=SponsoredImpression.Status.FAILED, last_error=reason[:255], updated_at=timezone.now())
    logger.warning("sponsored post failed", extra={"impression": str(impression_id), "reason": reason})


def sponsored_post_give_up_slot(
    *, tenant_id: Any, creative_id: Any, group_id: Any, local_date: date | str, slot: str, reason: str
) -> None:
    impression = SponsoredImpression.objects.filter(
        tenant_id=tenant_id, creative_id=creative_id, group_id=group_id, local_date=local_date, slot=slot
    ).first()
    if impression is not None:
        sponsored_post_give_up(impression_id=impression.pk, reason=reason)


# --- Reporting -------------------------------------------------------------------------------------------------------


class CreativePerformance(TypedDict):
    creative_id: UUID
    name: str
    text: str
    mode: str
    impressions: int
    reach: int
    clicks: int
    ctr: float


class SponsorPerformance(TypedDict):
    source_id: UUID
    source_name: str
    impressions: int
    reach: int
    clicks: int
    ctr: float
    revenue: dict[str, int]
    creatives: list[CreativePerformance]


def _ctr(clicks: int, reach: int) -> float:
    return round(clicks / reach, 6) if reach else 0.0


def _local_bounds(*, tenant: Tenant, start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in the tenant's zone."""
    if end < start:
        raise ValidationError({"end": "The end date is before the start date."})
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationError({"end": f"At most {MAX_PERIOD_DAYS} days from start to end."})
    zone = tenant.time_zone
    return datetime.combine(start, time.min, tzinfo=zone), datetime.combine(end + timedelta(days=1), time.min, zone)


def sponsor_performance(*, tenant: Tenant, start: date, end: date) -> list[SponsorPerformance]:
    """Per sponsorship source and creative, for local days `start`..`end` (inclusive), in four queries.

    impressions: lines sent (posts GroupMe accepted; replies not failed or silenced); reach: their member counts
    summed; clicks: human clicks in the period on a creative's link that came from a reply carrying that creative,
    or (scheduled creatives) from its bare link; CTR = clicks / reach; revenue: the source's conversions in the
    period, net of refunds, per currency.
    """
    start_at, end_at = _local_bounds(tenant=tenant, start=start, end=end)
    sources = list(source_list_sponsorship(tenant=tenant))
    human_clicks = Click.objects.filter(
        link_id=OuterRef("link_id"), is_bot=False, clicked_at__gte=start_at, clicked_at__lt=end_at
    )
    carried = SponsoredImpression.objects.filter(interaction_id=OuterRef("interaction_id"),
                                                 creative_id=OuterRef(OuterRef("pk")))  # fmt: skip

    def count_of(clicks: QuerySet[Click]) -> Coalesce:
        # COUNT(*), not of the id: the index of people's clicks (link, visitor, time, interaction) answers alone.
        counted = clicks.values("link_id").annotate(n=Count("*")).values("n")
        return Coalesce(Subquery(counted, output_field=IntegerField()), 0)

    creatives = list(
        Creative.objects.for_tenant(tenant)
        .filter(source__kind=SPONSORSHIP)
        .annotate(
            reply_clicks=count_of(human_clicks.filter(Exists(carried))),
            bare_clicks=count_of(human_clicks.filter(interaction__isnull=True)),
        )
        .order_by("created_at", "pk")
    )
    # A line on a reply that finally failed was marked failed then (sponsored_lines_not_shown): one table's rows.
    shown = (
        SponsoredImpression.objects.for_tenant(tenant)
        .filter(local_date__gte=start, local_date__lte=end, status=SponsoredImpression.Status.SENT)
        .values("creative_id")
        .annotate(impressions=Count("pk"), reach=Sum("member_count"))
    )
    shown_by_creative = {row["creative_id"]: row for row in shown}
    revenue = (
        Conversion.objects.for_tenant(tenant)
        .filter(source__kind=SPONSORSHIP, occurred_at__gte=start_at, occurred_at__lt=end_at)
        .values("source_id", "currency")
        .annotate(net=Sum("amount"))
        .order_by("source_id", "currency")
    )
    revenue_by_source: dict[Any, dict[str, int]] = {}
    for row in revenue:
        revenue_by_source.setdefault(row["source_id"], {})[row["currency"]] = row["net"]

    rows: dict[Any, SponsorPerformance] = {
        source.pk: SponsorPerformance(
            source_id=source.pk,
            source_name=source.name,
            impressions=0,
            reach=0,
            clicks=0,
            ctr=0.0,
            revenue=revenue_by_source.get(source.pk, {}),
            creatives=[],
        )
        for source in sources
    }
    for creative in creatives:
        figures = shown_by_creative.get(creative.pk, {})
        impressions, reach = figures.get("impressions", 0), figures.get("reach") or 0
        clicks = creative.reply_clicks + (creative.bare_clicks if creative.mode == Creative.Mode.SCHEDULED else 0)
        if creative.link_id is None:
            clicks = 0
        row = rows[creative.source_id]
        row["creatives"].append(CreativePerformance(
            creative_id=creative.pk, name=creative.name, text=creative.text, mode=creative.mode,
            impressions=impressions, reach=reach, clicks=clicks, ctr=_ctr(clicks, reach),
        ))  # fmt: skip
        row["impressions"] += impressions
        row["reach"] += reach
        row["clicks"] += clicks
    for row in rows.values():
        row["ctr"] = _ctr(row["clicks"], row["reach"])
    return list(rows.values())


def source_list_sponsorship(*, tenant: Tenant) -> QuerySet[MonetizationSource]:
    return MonetizationSource.objects.for_tenant(tenant).filter(kind=SPONSORSHIP).order_by("name", "pk")
