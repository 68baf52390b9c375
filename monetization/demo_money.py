"""The demo's money: a demo tenant's sources, links and sponsor, and what its members do with the short URLs in the
bots' replies (clicks, link previews, purchases, signups, refunds, repeated postbacks, donations, subscriptions).

Everything after the setup goes through the public endpoints, in this process (Django's test client, as the traffic
simulation does): `GET /l/<code>` for clicks, `GET /hooks/postback/<token>/` for the affiliate's and the sponsor's
reports, `POST /hooks/payments/<token>/` with a Stripe signature for donations and subscriptions. What is stored is
what live traffic stores; only times are moved to when the demo's members acted (see `_backdated`).

Deterministic for a seed: who clicks, converts, refunds, donates and how much is decided per short URL by generators
seeded with the seed, the GroupMe id of the message that was answered and the link's name, and the provider ids
(txn_id, event and checkout ids) come from the same. A second run finds those clicks and ids stored and sends
nothing again; a run that stopped halfway sends only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.test import Client
from django.utils import timezone

from bots.models import Interaction
from bots.simulation import in_process_client
from monetization.ledger import format_minor_units
from monetization.models import (
    Click,
    Conversion,
    InteractionLink,
    Link,
    MonetizationSource,
    PostbackReceipt,
    WebhookEvent,
)
from monetization.payments import signature_header
from monetization.selectors import source_list
from monetization.services import link_create, source_create
from monetization.sponsorship import creative_create
from tenants.models import Tenant

Kind = MonetizationSource.Kind
Outcome = Conversion.Outcome


# --- The plan --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSource:
    name: str
    kind: str
    details: dict[str, Any] = field(default_factory=dict)  # "currency" here is what its reports are paid in
    attribution_window_days: int = 30


@dataclass(frozen=True)
class DemoLink:
    name: str
    destination_url: str
    source: str  # a DemoSource's name
    click_param: str = "click_id"


@dataclass(frozen=True)
class DemoCreative:
    name: str
    source: str
    text: str
    link: str  # a DemoLink's name
    daily_cap_per_group: int = 3


@dataclass(frozen=True)
class DemoMoneyPlan:
    sources: tuple[DemoSource, ...]
    links: tuple[DemoLink, ...]
    creatives: tuple[DemoCreative, ...] = ()
    seed: int | str = 1
    direct_payments: int = 5  # per donation or subscription source: payments from its own page, not from a reply


# --- How members behave ----------------------------------------------------------------------------------------------

# Of the sent replies carrying a link's short URL, the share whose reader follows it, by the link's source.
CLICK_SHARE: dict[str, float] = {
    Kind.AFFILIATE: 0.38,
    Kind.DONATION: 0.3,
    Kind.SUBSCRIPTION: 0.3,
    Kind.SPONSORSHIP: 0.22,
}
PREVIEW_SHARE = 0.06  # of the short URLs: fetched by a link-preview bot when the reply was shared onwards
REFUND_SHARE = 0.15  # of the purchases
REFUND_DAYS_AFTER_PURCHASE = (1.0, 6.0)
REPEAT_SHARE = 0.1  # of the postbacks and payment events: the provider delivers it again
PURCHASE_COMMISSIONS = (480, 640, 880, 1200, 1680, 2400, 3200)  # cents: 8% of a $60 to $400 order
SPONSOR_SIGNUP_BOUNTY = 200  # cents the sponsor pays per loyalty-club signup
DONATIONS = (500, 1000, 1000, 1500, 2000, 2500, 5000)
SUBSCRIPTION_PRICE = 499


@dataclass(frozen=True)
class _Conversion:
    outcome: str
    share: float  # of the link's human clicks
    amounts: tuple[int, ...]
    minutes_after_click: tuple[float, float]


# What a click on a source's link can lead to, in order of preference: the shares add up to 10-20% of the clicks.
CONVERSIONS: dict[str, tuple[_Conversion, ...]] = {
    Kind.AFFILIATE: (
        _Conversion(Outcome.PURCHASE, 0.12, PURCHASE_COMMISSIONS, (4, 180)),
        _Conversion(Outcome.SIGNUP, 0.06, (0,), (1, 20)),
    ),
    Kind.SPONSORSHIP: (_Conversion(Outcome.SIGNUP, 0.12, (SPONSOR_SIGNUP_BOUNTY,), (1, 30)),),
    Kind.DONATION: (_Conversion(Outcome.DONATION, 0.2, DONATIONS, (1, 15)),),
    Kind.SUBSCRIPTION: (_Conversion(Outcome.SUBSCRIPTION, 0.15, (SUBSCRIPTION_PRICE,), (2, 30)),),
}
PAYMENT_KINDS = frozenset({Kind.DONATION, Kind.SUBSCRIPTION})  # report through the signed webhook, not postbacks

BROWSER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
)
PREVIEW_AGENTS = (
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.24.12.78 A",
)
POSTBACK_AGENT = "LakesidePartners-Postback/2.1"
WEBHOOK_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


# --- Setup -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneySetup:
    created: bool  # False: the tenant had sources already, and nothing was changed
    links: dict[str, Link]


def demo_money_setup(*, tenant: Tenant, plan: DemoMoneyPlan, creatives_start: datetime) -> MoneySetup:
    """The plan's sources, links and reply-mode creatives, once: a tenant with any source is left as it is.

    Creatives start at `creatives_start`: replayed history is dated in the past, and a creative is only appended
    to replies it was live for.
    """
    if source_list(tenant=tenant).exists():
        named = Link.objects.for_tenant(tenant).exclude(name="")
        return MoneySetup(created=False, links={link.name: link for link in named})
    with transaction.atomic():
        sources = {
            planned.name: source_create(
                tenant=tenant,
                name=planned.name,
                kind=planned.kind,
                details=planned.details,
                attribution_window_days=planned.attribution_window_days,
            )
            for planned in plan.sources
        }
        links = {
            planned.name: link_create(
                tenant=tenant,
                destination_url=planned.destination_url,
                name=planned.name,
                source=sources[planned.source],
                click_param=planned.click_param,
            )
            for planned in plan.links
        }
        for planned_creative in plan.creatives:
            creative_create(
                tenant=tenant, source=sources[planned_creative.source], text=planned_creative.text,
                name=planned_creative.name, link=links[planned_creative.link], starts_at=creatives_start,
                daily_cap_per_group=planned_creative.daily_cap_per_group,
            )  # fmt: skip
    return MoneySetup(created=True, links=links)


# --- Simulation ------------------------------------------------------------------------------------------------------


@dataclass
class MoneyTally:
    """Requests sent, by what they were; `unexpected` lists answers the endpoints' contract does not allow."""

    sent: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)

    def line(self) -> str:
        sent = self.sent
        return (
            f"{sent['click']} clicks and {sent['preview']} link previews on short URLs, {sent['postback']} postbacks "
            f"(+{sent['postback repeat']} repeated), {sent['payment event']} signed payment events "
            f"(+{sent['payment event repeat']} repeated)"
        )


@dataclass(frozen=True)
class _ShortUrl:
    """A short URL a member saw in a sent reply."""

    path: str
    link: Link
    source: MonetizationSource
    interaction_id: Any
    message_id: str  # GroupMe's id: the same in every database seeded with the same seed
    sender_id: str
    occurred_at: datetime

    def key(self, purpose: str) -> str:
        return f"{self.message_id}:{self.link.name or self.link.destination_url}:{purpose}"


@dataclass(frozen=True)
class _Clicked:
    url: _ShortUrl
    click_id: str
    at: datetime


@dataclass(frozen=True)
class _Report:
    """A conversion the source will report: through a postback, or a signed payment event."""

    source: MonetizationSource
    outcome: str
    amount: int
    provider_id: str  # txn_id, or the checkout session's id
    at: datetime
    click_id: str = ""
    repeat: bool = False


def demo_money_simulate(
    *, tenant: Tenant, plan: DemoMoneyPlan, since: datetime, client: Client | None = None
) -> MoneyTally:
    """Members following the short URLs of the tenant's sent replies, and what the sources then report."""
    run = _MoneyRun(tenant=tenant, seed=plan.seed, client=client or in_process_client(), now=timezone.now())
    urls = _short_urls(tenant=tenant)
    clicked: list[_Clicked] = []
    for link_urls in _by_link(urls).values():
        share = CLICK_SHARE.get(link_urls[0].source.kind, 0.25)
        for url in run.ranked(link_urls, purpose="preview")[: _quota(len(link_urls), PREVIEW_SHARE)]:
            run.preview(url)
        for url in run.ranked(link_urls, purpose="click")[: _quota(len(link_urls), share)]:
            click = run.click(url)
            if click is not None:
                clicked.append(click)
    reports = run.conversions(clicked)
    reports += run.refunds([report for report in reports if report.outcome == Outcome.PURCHASE])
    for source in source_list(tenant=tenant).filter(kind__in=PAYMENT_KINDS, is_active=True).order_by("name"):
        reports += run.direct_payments(source=source, count=plan.direct_payments, since=since)
    reports = run.with_repeats(reports)
    for report in sorted(reports, key=lambda report: report.at):
        if report.source.kind in PAYMENT_KINDS:
            run.payment_event(report)
        else:
            run.postback(report)
    return run.tally


def _quota(count: int, share: float) -> int:
    """`share` of `count`, and at least one when there is any: a small demo still shows every kind of event."""
    return min(count, max(1, round(count * share))) if count else 0


def _short_urls(*, tenant: Tenant) -> list[_ShortUrl]:
    """Short URLs in replies GroupMe accepted (a failed reply's URL was never seen), oldest first."""
    found = (
        InteractionLink.objects.for_tenant(tenant)
        .filter(interaction__reply_status=Interaction.ReplyStatus.SENT, link__source__isnull=False)
        .select_related("link__source", "interaction__message")
        .order_by("interaction__occurred_at", "link__name", "pk")
    )
    urls = []
    for interaction_link in found:
        interaction = interaction_link.interaction
        path = f"/l/{interaction_link.code}"
        if path not in interaction.reply_text:
            continue
        source = interaction_link.link.source
        assert source is not None
        urls.append(
            _ShortUrl(
                path=path,
                link=interaction_link.link,
                source=source,
                interaction_id=interaction.pk,
                message_id=interaction.message.groupme_message_id,
                sender_id=interaction.message.sender_id or "",
                occurred_at=interaction.occurred_at,
            )
        )
    return urls


def _by_link(urls: Iterable[_ShortUrl]) -> dict[Any, list[_ShortUrl]]:
    grouped: dict[Any, list[_ShortUrl]] = {}
    for url in urls:
        grouped.setdefault(url.link.pk, []).append(url)
    return grouped


_Item = TypeVar("_Item")


class _MoneyRun:
    def __init__(self, *, tenant: Tenant, seed: int | str, client: Client, now: datetime) -> None:
        self.tenant = tenant
        self.seed = seed
        self.client = client
        self.now = now
        self.tally = MoneyTally()

    def rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}:{key}")  # noqa: S311 - reproducible demo data, not a secret

    def provider_id(self, prefix: str, key: str) -> str:
        return f"{prefix}{hashlib.sha256(f'{self.seed}:{key}'.encode()).hexdigest()[:24]}"

    def ranked(self, items: Sequence[_Item], *, purpose: str, key: Any = None) -> list[_Item]:
        """`items` in an order drawn from the seed; the first n of it are a sample that is the same every run."""
        key = key or (lambda item: item.key(purpose))
        return sorted(items, key=lambda item: hashlib.sha256(f"{self.seed}:{key(item)}:{purpose}".encode()).digest())

    def _before_now(self, at: datetime) -> datetime:
        """For a request the demo sends now: a member who would click in the future clicked just now."""
        return min(at, self.now - timedelta(seconds=1))

    def _has_happened(self, at: datetime) -> bool:
        """For what a source reports: dated in the future, it has not happened, so it is not reported (dating it
        now would put a day-old purchase's refund, or a conversion, at the moment seed_demo ran)."""
        return at < self.now

    # Clicks ---------------------------------------------------------------------------------------------------------

    @staticmethod
    def _visitor(url: _ShortUrl) -> tuple[str, str]:
        """The member's browser and address (in the documentation range 198.51.100.0/24), the same every time."""
        member = zlib.crc32(url.sender_id.encode())
        return BROWSER_AGENTS[member % len(BROWSER_AGENTS)], f"198.51.100.{member % 250 + 1}"

    def preview(self, url: _ShortUrl) -> None:
        if Click.objects.filter(interaction_id=url.interaction_id, link=url.link, is_bot=True).exists():
            return
        rng = self.rng(url.key("preview"))
        response = self.client.get(
            url.path, secure=True, headers={"User-Agent": rng.choice(PREVIEW_AGENTS)}, REMOTE_ADDR="203.0.113.7"
        )
        if response.status_code != 302:
            self.tally.unexpected.append(f"preview of {url.path}: {response.status_code}")
            return
        self.tally.sent["preview"] += 1
        # The click is stamped with its arrival; previews come seconds after the reply was posted (demo data only).
        at = self._before_now(url.occurred_at + timedelta(seconds=rng.uniform(2, 40)))
        Click.objects.filter(pk=self._click_id(response["Location"], url.link)).update(clicked_at=at)

    def click(self, url: _ShortUrl) -> _Clicked | None:
        earlier = (
            Click.objects.filter(interaction_id=url.interaction_id, link=url.link, is_bot=False)
            .order_by("clicked_at")
            .values_list("pk", "clicked_at")
            .first()
        )
        if earlier is not None:
            return _Clicked(url=url, click_id=str(earlier[0]), at=earlier[1])
        rng = self.rng(url.key("click"))
        agent, address = self._visitor(url)
        response = self.client.get(url.path, secure=True, headers={"User-Agent": agent}, REMOTE_ADDR=address)
        if response.status_code != 302:
            self.tally.unexpected.append(f"click on {url.path}: {response.status_code}")
            return None
        self.tally.sent["click"] += 1
        click_id = self._click_id(response["Location"], url.link)
        # The service stamps a click with the time it arrives (now). The demo's member clicked a few minutes after
        # the reply, days or weeks ago: moved back to then, as demo data only, so clicks fall on the reply's day.
        at = self._before_now(url.occurred_at + timedelta(minutes=rng.uniform(0.5, 25)))
        Click.objects.filter(pk=click_id).update(clicked_at=at)
        return _Clicked(url=url, click_id=click_id, at=at)

    @staticmethod
    def _click_id(location: str, link: Link) -> str:
        return parse_qs(urlsplit(location).query).get(link.click_param, [""])[0]

    # Conversions ----------------------------------------------------------------------------------------------------

    def conversions(self, clicked: Sequence[_Clicked]) -> list[_Report]:
        """Per link, a sample of its clicks converts: the first outcome's share of the clicks, then the next's."""
        reports: list[_Report] = []
        grouped: dict[Any, list[_Clicked]] = {}
        for click in clicked:
            grouped.setdefault(click.url.link.pk, []).append(click)
        for link_clicks in grouped.values():
            source = link_clicks[0].url.source
            ranked = self.ranked(link_clicks, purpose="convert", key=lambda click: click.url.key("convert"))
            taken = 0
            for planned in CONVERSIONS.get(source.kind, ()):
                count = _quota(len(ranked), planned.share)
                for click in ranked[taken : taken + count]:
                    rng = self.rng(click.url.key(planned.outcome))
                    at = click.at + timedelta(minutes=rng.uniform(*planned.minutes_after_click))
                    if not self._has_happened(at):
                        continue  # a member who clicked minutes ago has not bought yet
                    reports.append(
                        _Report(
                            source=source,
                            outcome=planned.outcome,
                            amount=rng.choice(planned.amounts),
                            provider_id=self.provider_id(self._id_prefix(source), click.url.key(planned.outcome)),
                            at=at,
                            click_id=click.click_id,
                        )
                    )
                taken += count
        return reports

    @staticmethod
    def _id_prefix(source: MonetizationSource) -> str:
        return "cs_demo_" if source.kind in PAYMENT_KINDS else "txn-"

    def refunds(self, purchases: Sequence[_Report]) -> list[_Report]:
        """Some buyers send the goods back a few days later; the program reports the commission it takes back.

        Only a purchase older than the earliest return can have been sent back by now, and its refund is dated
        between that and now: drawn over the whole window, most refunds of a demo whose purchases are a few days old
        would lie in the future, and a small demo could show none (seed_demo --messages 300 did, depending on the
        hour it ran)."""
        earliest, latest = REFUND_DAYS_AFTER_PURCHASE
        refunds = []
        for purchase in purchases:
            age_days = (self.now - purchase.at) / timedelta(days=1)
            if age_days <= earliest:
                continue
            days = self.rng(purchase.provider_id).uniform(earliest, min(latest, age_days))
            refunds.append(
                _Report(
                    source=purchase.source,
                    outcome=Outcome.REFUND,
                    amount=purchase.amount,
                    provider_id=f"{purchase.provider_id}-refund",
                    click_id=purchase.click_id,
                    at=self._before_now(purchase.at + timedelta(days=days)),
                )
            )
        ranked = self.ranked(refunds, purpose="refund", key=lambda report: report.provider_id)
        return ranked[: _quota(len(purchases), REFUND_SHARE)]

    def direct_payments(self, *, source: MonetizationSource, count: int, since: datetime) -> list[_Report]:
        """Gifts or sign-ups from the source's own page: no click, so no attribution."""
        outcome: str = Outcome.DONATION
        amounts: tuple[int, ...] = DONATIONS
        if source.kind == Kind.SUBSCRIPTION:
            outcome, amounts = Outcome.SUBSCRIPTION, (SUBSCRIPTION_PRICE,)
        reports = []
        for index in range(count):
            key = f"{source.name}:direct:{index}"
            rng = self.rng(key)
            at = self._before_now(since + (self.now - since) * rng.random())
            reports.append(
                _Report(
                    source=source,
                    outcome=outcome,
                    amount=rng.choice(amounts),
                    provider_id=self.provider_id("cs_demo_", key),
                    at=at,
                )
            )
        return reports

    def with_repeats(self, reports: list[_Report]) -> list[_Report]:
        """Providers deliver some reports twice; which ones is part of the plan, per kind of endpoint."""
        repeated: set[str] = set()
        for is_payment in (False, True):
            kind = [report for report in reports if (report.source.kind in PAYMENT_KINDS) == is_payment]
            ranked = self.ranked(kind, purpose="repeat", key=lambda report: report.provider_id)
            repeated.update(report.provider_id for report in ranked[: _quota(len(kind), REPEAT_SHARE)])
        return [replace(report, repeat=report.provider_id in repeated) for report in reports]

    def _currency(self, source: MonetizationSource) -> str:
        return str(source.details.get("currency") or self.tenant.default_currency).upper()

    def _is_recorded(self, report: _Report) -> bool:
        return Conversion.objects.filter(source=report.source, external_id=report.provider_id).exists()

    def postback(self, report: _Report) -> None:
        if self._is_recorded(report):
            return  # reported by an earlier run
        path = urlsplit(report.source.postback_url).path
        params = {"click_id": report.click_id, "event": report.outcome, "amount": str(abs(report.amount)),
                  "currency": self._currency(report.source), "txn_id": report.provider_id}  # fmt: skip
        response = self.client.get(path, params, secure=True, headers={"User-Agent": POSTBACK_AGENT})
        if response.status_code != 201:
            self.tally.unexpected.append(f"postback {report.provider_id}: {response.status_code}")
            return
        self.tally.sent["postback"] += 1
        conversion_id = response.json()["conversion"]
        # A postback carries no time: the service dates the conversion (and its receipt) on arrival. The demo's
        # happened after a click days or weeks ago: both are moved back to then, as demo data only, so the ledger's
        # days and the reconciliation of receipts against conversions read as they would for live reports.
        self._backdated(conversion_id=conversion_id, at=report.at)
        if report.repeat:
            again = self.client.get(path, params, secure=True, headers={"User-Agent": POSTBACK_AGENT})
            if again.status_code != 200 or again.json().get("conversion") != conversion_id:
                self.tally.unexpected.append(f"repeated postback {report.provider_id}: {again.status_code}")
                return
            self.tally.sent["postback repeat"] += 1
            PostbackReceipt.objects.filter(conversion_id=conversion_id, duplicate=True).update(received_at=report.at)

    def payment_event(self, report: _Report) -> None:
        if self._is_recorded(report):
            return
        assert report.source.webhook_secret
        session = {
            "id": report.provider_id, "object": "checkout.session", "amount_total": report.amount,
            "currency": self._currency(report.source).lower(), "client_reference_id": report.click_id or None,
            "mode": "subscription" if report.source.kind == Kind.SUBSCRIPTION else "payment",
            "payment_status": "paid", "created": int(report.at.timestamp()),
        }  # fmt: skip
        event_id = f"evt_{report.provider_id.removeprefix('cs_')}"
        body = json.dumps({"id": event_id, "object": "event", "type": "checkout.session.completed",
                           "created": int(report.at.timestamp()), "data": {"object": session}}).encode()  # fmt: skip
        for attempt in range(2 if report.repeat else 1):
            # Signed now (the signature must be fresh); the event's `created` says when the payment happened.
            signature = signature_header(secret=report.source.webhook_secret, payload=body, timestamp=int(time.time()))
            response = self.client.post(
                urlsplit(report.source.webhook_url).path, body, content_type="application/json", secure=True,
                headers={"Stripe-Signature": signature, "User-Agent": WEBHOOK_AGENT},
            )  # fmt: skip
            expected = "recorded" if attempt == 0 else "duplicate"
            if response.status_code != 200 or response.json().get("status") != expected:
                self.tally.unexpected.append(f"payment event {event_id}: {response.status_code} {response.content!r}")
                return
            self.tally.sent["payment event" if attempt == 0 else "payment event repeat"] += 1
            if attempt == 0:
                # The conversion is dated by the event; its receipt and event row by their arrival: moved back too.
                self._backdated(conversion_id=response.json()["conversion"], at=report.at)
                WebhookEvent.objects.filter(source=report.source, event_id=event_id).update(received_at=report.at)

    @staticmethod
    def _backdated(*, conversion_id: str, at: datetime) -> None:
        Conversion.objects.filter(pk=conversion_id).update(occurred_at=at)
        PostbackReceipt.objects.filter(conversion_id=conversion_id).update(received_at=at)


# --- Summary ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MoneySummary:
    sources: int
    links: int
    human_clicks: int
    preview_clicks: int
    conversions: int  # refunds not included
    refunds: int
    repeated_reports: int  # postback receipts that found their conversion already recorded
    revenue: dict[str, int]  # net, per currency, in minor units

    def line(self) -> str:
        revenue = ", ".join(format_minor_units(net, currency) for currency, net in self.revenue.items()) or "none"
        return (
            f"{self.sources} sources, {self.links} links, {self.human_clicks + self.preview_clicks} clicks "
            f"({self.human_clicks} human, {self.preview_clicks} link previews), {self.conversions} conversions and "
            f"{self.refunds} refund(s) ({self.repeated_reports} repeated postback(s) recorded once), revenue net "
            f"{revenue}"
        )


def demo_money_summary(*, tenant: Tenant) -> MoneySummary:
    clicks = Click.objects.for_tenant(tenant).aggregate(
        human=Count("pk", filter=Q(is_bot=False)), previews=Count("pk", filter=Q(is_bot=True))
    )
    refund = Q(outcome=Outcome.REFUND)
    conversions = Conversion.objects.for_tenant(tenant).aggregate(
        conversions=Count("pk", filter=~refund), refunds=Count("pk", filter=refund)
    )
    revenue = Conversion.objects.for_tenant(tenant).values("currency").annotate(net=Sum("amount")).order_by("currency")
    return MoneySummary(
        sources=source_list(tenant=tenant).count(),
        links=Link.objects.for_tenant(tenant).count(),
        human_clicks=clicks["human"],
        preview_clicks=clicks["previews"],
        conversions=conversions["conversions"],
        refunds=conversions["refunds"],
        repeated_reports=PostbackReceipt.objects.for_tenant(tenant).filter(duplicate=True).count(),
        revenue={row["currency"]: row["net"] for row in revenue},
    )
