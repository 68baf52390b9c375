"""Reads behind the dashboard's interaction pages: a filtered list paged by keyset, and one interaction in full.

Interactions are the biggest table a tenant has (a year of a busy tenant is millions of rows), so the list never
counts and never uses OFFSET: it walks the (tenant, -occurred_at) index from a cursor, the last row's
(occurred_at, id), and reads one row more than it shows to know whether there is an older page.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet

from bots.models import Bot, Interaction
from monetization.models import Click, Conversion, InteractionLink
from tenants.models import Tenant

PAGE_SIZE = 50
CONVERSIONS_SHOWN = 50


@dataclass(frozen=True)
class InteractionFilters:
    """What the list is narrowed to; `since` and `until` are instants (`until` exclusive), already cut in the
    tenant's time zone by the caller."""

    bot_id: UUID | None = None
    group_id: UUID | None = None
    member_id: UUID | None = None
    intent: str = ""
    since: datetime | None = None
    until: datetime | None = None
    handled: bool | None = None
    reply_status: str = ""


@dataclass(frozen=True)
class InteractionCursor:
    """Where an older page starts: strictly after this (occurred_at, id) in newest-first order."""

    occurred_at: datetime
    id: UUID

    def encode(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "InteractionCursor":
        """Raises ValueError for anything that is not a cursor this module wrote."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            moment, _, identifier = raw.partition("|")
            occurred_at = datetime.fromisoformat(moment)
            cursor = cls(occurred_at=occurred_at, id=UUID(identifier))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("not a page cursor") from exc
        if occurred_at.tzinfo is None:
            raise ValueError("not a page cursor")
        return cursor


@dataclass
class InteractionPage:
    interactions: list[Interaction]
    older: InteractionCursor | None  # None: this is the oldest page


def interaction_filter_bots(*, tenant: Tenant) -> list[Bot]:
    """Every bot the list can be filtered on, deleted ones too: their interactions stay in the history."""
    return list(Bot.objects.for_tenant(tenant).only("id", "name", "deleted_at").order_by("name", "id"))


def interactions_filtered(*, tenant: Tenant, filters: InteractionFilters) -> QuerySet[Interaction]:
    interactions = Interaction.objects.for_tenant(tenant)
    exact = {
        "bot_id": filters.bot_id,
        "group_id": filters.group_id,
        "member_id": filters.member_id,
        "handled": filters.handled,
        "intent": filters.intent or None,
        "reply_status": filters.reply_status or None,
        "occurred_at__gte": filters.since,
        "occurred_at__lt": filters.until,
    }
    return interactions.filter(**{lookup: value for lookup, value in exact.items() if value is not None})


def interaction_keyset_page(
    interactions: QuerySet[Interaction], *, before: InteractionCursor | None, size: int = PAGE_SIZE
) -> InteractionPage:
    """One newest-first page of `interactions` (a tenant-scoped queryset) starting after `before`."""
    if before is not None:
        # The plain `occurred_at <= t` is what the index range scan uses; the OR settles ties on the same instant.
        interactions = interactions.filter(occurred_at__lte=before.occurred_at).filter(
            Q(occurred_at__lt=before.occurred_at) | Q(occurred_at=before.occurred_at, id__lt=before.id)
        )
    columns = [
        "id", "occurred_at", "message_text", "intent", "handled", "sentiment", "reply_status", "response_time_ms",
        "bot", "bot__name", "group", "group__name", "group__groupme_group_id",
        "member", "member__nickname", "member__groupme_user_id", "member__opted_out_at",
    ]  # fmt: skip
    newest_first = interactions.select_related("bot", "group", "member").only(*columns).order_by("-occurred_at", "-id")
    rows = list(newest_first[: size + 1])
    shown = rows[:size]
    older = InteractionCursor(occurred_at=shown[-1].occurred_at, id=shown[-1].pk) if len(rows) > size else None
    return InteractionPage(interactions=shown, older=older)


def interaction_detail_queryset(*, tenant: Tenant) -> QuerySet[Interaction]:
    return (
        Interaction.objects.for_tenant(tenant)
        .select_related("bot", "group", "member", "rule", "message")
        .prefetch_related("reply_parts")
    )


@dataclass
class SentLink:
    """One short URL that went out in an interaction's reply, with what came of it."""

    code: str
    short_url: str
    link_id: UUID
    link_name: str
    destination_url: str
    clicks: int = 0  # people
    preview_fetches: int = 0  # link-preview fetchers and crawlers: recorded, never counted as clicks
    first_click_at: datetime | None = None
    last_click_at: datetime | None = None
    conversions: int = 0


@dataclass
class InteractionOutcome:
    links: list[SentLink]
    conversions: list[Conversion]  # newest first, at most CONVERSIONS_SHOWN
    more_conversions: bool


def interaction_outcome(*, tenant: Tenant, interaction: Interaction) -> InteractionOutcome:
    """The links an interaction's reply sent, their clicks, and the conversions attributed to it: four queries."""
    sent = list(
        InteractionLink.objects.for_tenant(tenant)
        .filter(interaction=interaction)
        .select_related("link")
        .order_by("created_at", "id")
    )
    clicks = (
        Click.objects.for_tenant(tenant)
        .filter(interaction=interaction)
        .values("link_id")
        .annotate(
            people=Count("id", filter=Q(is_bot=False)),
            fetchers=Count("id", filter=Q(is_bot=True)),
            first=Min("clicked_at", filter=Q(is_bot=False)),
            last=Max("clicked_at", filter=Q(is_bot=False)),
        )
        .order_by()
    )
    clicks_by_link = {row["link_id"]: row for row in clicks}
    converted = (
        Conversion.objects.for_tenant(tenant)
        .filter(interaction=interaction, attributed_click__isnull=False)
        .values("attributed_click__link_id")
        .annotate(conversions=Count("id"))
        .order_by()
    )
    conversions_by_link = {row["attributed_click__link_id"]: row["conversions"] for row in converted}
    conversions = list(
        Conversion.objects.for_tenant(tenant)
        .filter(interaction=interaction)
        .select_related("source")
        .order_by("-occurred_at", "-id")[: CONVERSIONS_SHOWN + 1]
    )
    links = []
    for interaction_link in sent:
        counted = clicks_by_link.get(interaction_link.link_id, {})
        links.append(
            SentLink(
                code=interaction_link.code,
                short_url=f"{settings.PUBLIC_BASE_URL}/l/{interaction_link.code}",
                link_id=interaction_link.link_id,
                link_name=interaction_link.link.name,
                destination_url=interaction_link.link.destination_url,
                clicks=counted.get("people", 0),
                preview_fetches=counted.get("fetchers", 0),
                first_click_at=counted.get("first"),
                last_click_at=counted.get("last"),
                conversions=conversions_by_link.get(interaction_link.link_id, 0),
            )
        )
    return InteractionOutcome(
        links=links, conversions=conversions[:CONVERSIONS_SHOWN], more_conversions=len(conversions) > CONVERSIONS_SHOWN
    )


def interaction_response_times(*, interaction: Interaction) -> dict[str, Any]:
    """Received → last part accepted, from the prefetched reply parts (no query)."""
    parts = list(interaction.reply_parts.all())
    accepted = [part.accepted_at for part in parts if part.accepted_at is not None]
    return {
        "received_at": interaction.message.received_at,
        "last_accepted_at": max(accepted) if accepted else None,
        "attempts": sum(part.attempts for part in parts),
    }
