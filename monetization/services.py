"""Writes of monetization: sources, links, clicks, and conversions with their attribution."""

import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from bots.models import Interaction
from monetization.currencies import MINOR_UNIT_EXPONENTS
from monetization.models import (
    Click,
    Conversion,
    InteractionLink,
    Link,
    MonetizationSource,
    PostbackReceipt,
)
from tenants.models import Tenant
from tenants.url_tokens import url_token_hash, url_token_new, url_token_plausible

logger = logging.getLogger("botyard.monetization")

# Link-preview fetchers and crawlers: chat apps unfurl links as soon as they are posted. Not "GroupMe" itself:
# its in-app browser carries real people, and its unfurler announces itself as a preview.
_BOT_AGENTS = re.compile(
    r"bot|crawl|spider|preview|facebookexternalhit|embedly|slack|discord|whatsapp|telegram|skype|"
    r"iframely|curl|wget|python-requests|httpclient|okhttp|headless",
    re.IGNORECASE,
)
SHORT_CODE_BYTES = 6  # 48 random bits, 8 URL-safe characters


def _short_code() -> str:
    return secrets.token_urlsafe(SHORT_CODE_BYTES)


# --- Sources ---------------------------------------------------------------------------------------------------------

SOURCE_EDITABLE_FIELDS = ("name", "details", "is_active", "attribution_window_days")


def source_create(*, tenant: Tenant, name: str, kind: str, **fields: Any) -> MonetizationSource:
    token = url_token_new()
    source = MonetizationSource(
        tenant=tenant, name=name, kind=kind, postback_token=token, postback_token_hash=url_token_hash(token), **fields
    )
    if kind in (MonetizationSource.Kind.SUBSCRIPTION, MonetizationSource.Kind.DONATION):
        source.webhook_secret = f"whsec_{secrets.token_urlsafe(32)}"
    source.full_clean(exclude=["postback_token", "postback_token_hash", "webhook_secret", "tenant"])
    source.save()
    return source


def source_update(*, source: MonetizationSource, **fields: Any) -> MonetizationSource:
    for name, value in fields.items():
        if name not in SOURCE_EDITABLE_FIELDS:
            raise ValidationError({name: "This field cannot be changed."})
        setattr(source, name, value)
    source.save()
    return source


def source_delete(*, source: MonetizationSource) -> None:
    if Conversion.objects.filter(source=source).exists():
        raise ValidationError("This source has conversions, which the ledger must keep; deactivate it instead.")
    if source.creatives.filter(impressions__isnull=False).exists():
        raise ValidationError("This sponsor's creatives were shown, which its report must keep; deactivate it instead.")
    source.delete()


def source_get_by_postback_token(*, token: str) -> MonetizationSource | None:
    """The source whose postback URL carries `token` (not scoped by tenant: the token names the source)."""
    if not url_token_plausible(token):
        return None
    return (
        MonetizationSource.objects.select_related("tenant")
        .filter(postback_token_hash=url_token_hash(token), is_active=True)
        .first()
    )


# --- Links and clicks ------------------------------------------------------------------------------------------------

_http_url = URLValidator(schemes=["http", "https"])


def _link_fields_clean(*, tenant: Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    if "destination_url" in cleaned:
        try:
            _http_url(cleaned["destination_url"])
        except ValidationError:
            raise ValidationError({"destination_url": "An http:// or https:// URL."}) from None
    if "click_param" in cleaned and not re.fullmatch(r"[A-Za-z0-9_.\-]{1,40}", cleaned["click_param"] or ""):
        raise ValidationError({"click_param": "Letters, digits, _ . - only."})
    source = cleaned.get("source")
    if source is not None and source.tenant_id != tenant.pk:
        raise ValidationError({"source": "No such source."})
    return cleaned


def link_create(*, tenant: Tenant, destination_url: str, **fields: Any) -> Link:
    cleaned = _link_fields_clean(tenant=tenant, fields={"destination_url": destination_url, **fields})
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Link.objects.create(tenant=tenant, code=_short_code(), **cleaned)
        except IntegrityError:
            continue  # a 48-bit code collided; draw another
    raise RuntimeError("could not draw a unique link code")


def link_update(*, link: Link, **fields: Any) -> Link:
    for name, value in _link_fields_clean(tenant=link.tenant, fields=fields).items():
        setattr(link, name, value)
    link.save()
    return link


def link_delete(*, link: Link) -> None:
    link.delete()


def interaction_link_url(*, interaction: Any, link: Link) -> str:
    """The short URL of `link` unique to `interaction` (created once; a retry of the reply gets the same URL)."""
    existing = InteractionLink.objects.filter(interaction=interaction, link=link).first()
    if existing is None:
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    existing = InteractionLink.objects.create(
                        tenant_id=link.tenant_id, link=link, interaction=interaction, code=_short_code()
                    )
                break
            except IntegrityError:
                existing = InteractionLink.objects.filter(interaction=interaction, link=link).first()
                if existing is not None:
                    break
        if existing is None:
            raise RuntimeError("could not draw a unique link code")
    return f"{settings.PUBLIC_BASE_URL}/l/{existing.code}"


def _visitor_hash(ip: str, *, day: date) -> str:
    """A keyed, day-salted hash: the same visitor on the same day hashes the same; no address is ever stored."""
    key = f"{settings.SECRET_KEY}:visitor:{day.isoformat()}".encode()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest() if ip else ""


def _with_query_param(url: str, *, name: str, value: str) -> str:
    """`url` with `name=value` added; the destination's own query (UTM parameters included) is kept."""
    parts = urlsplit(url)
    query = [(key, val) for key, val in parse_qsl(parts.query, keep_blank_values=True) if key != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class ClickTarget:
    link: Link
    interaction_id: Any


def click_target_get(*, code: str) -> ClickTarget | None:
    """What a short code points to: an interaction's link, or a link itself (clicks without an interaction)."""
    if not 4 <= len(code) <= 16 or not text_is_storable(text=code):
        return None
    found = InteractionLink.objects.select_related("link").filter(code=code).first()
    if found is not None:
        return ClickTarget(link=found.link, interaction_id=found.interaction_id)
    link = Link.objects.filter(code=code).first()
    return ClickTarget(link=link, interaction_id=None) if link else None


def click_record(*, target: ClickTarget, user_agent: str, ip: str) -> str:
    """Records the click (one INSERT) and returns where to send the visitor, click id attached."""
    now = timezone.now()
    click = Click.objects.create(
        tenant_id=target.link.tenant_id,
        link=target.link,
        interaction_id=target.interaction_id,
        clicked_at=now,
        user_agent=user_agent[:300],
        visitor_hash=_visitor_hash(ip, day=now.date()),
        is_bot=bool(_BOT_AGENTS.search(user_agent)) or not user_agent,
    )
    return _with_query_param(target.link.destination_url, name=target.link.click_param, value=str(click.pk))


# --- Conversions -----------------------------------------------------------------------------------------------------


def text_is_storable(*, text: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone UTF-16 surrogates; JSON and URL escapes let both in."""
    return "\x00" not in text and not any("\ud800" <= character <= "\udfff" for character in text)


@dataclass(frozen=True)
class ConversionReport:
    """A conversion as a source reports it, validated."""

    outcome: str
    amount: int
    currency: str
    external_id: str
    click_id: str = ""
    interaction_id: Any = None
    occurred_at: datetime | None = None


def conversion_report_clean(
    *, event: Any, amount: Any, currency: Any, txn_id: Any, click_id: Any = "", interaction: Any = None,
    occurred_at: datetime | None = None,
) -> ConversionReport:  # fmt: skip
    """Validates what a postback, the API or a webhook sent; ValidationError names every bad field."""
    errors: dict[str, str] = {}
    outcome = str(event or "").strip().lower()
    if outcome not in Conversion.Outcome.values:
        errors["event"] = f"One of {', '.join(Conversion.Outcome.values)}."
    code = str(currency or "").strip().upper()
    if code not in MINOR_UNIT_EXPONENTS:
        errors["currency"] = "An ISO 4217 currency code, e.g. USD."
    minor_units = 0
    # A signup may come without an amount; money events may not.
    text = str(amount if amount not in (None, "") or outcome != Conversion.Outcome.SIGNUP else "0").strip()
    if isinstance(amount, bool) or not re.fullmatch(r"-?\d{1,15}", text):
        errors["amount"] = "An integer number of minor units (cents for USD, yen for JPY), e.g. 1999."
    else:
        minor_units = int(text)
    external_id = str(txn_id or "").strip()
    if not external_id or len(external_id) > 255 or not text_is_storable(text=external_id):
        errors["txn_id"] = "The provider's transaction id is required (at most 255 characters, no NUL)."
    click = str(click_id or "").strip()
    if len(click) > 64 or not text_is_storable(text=click):
        errors["click_id"] = "At most 64 characters, no NUL."
    if errors:
        raise ValidationError(errors)
    if outcome == Conversion.Outcome.REFUND:
        minor_units = -abs(minor_units)
    elif minor_units < 0:
        raise ValidationError({"amount": "Only a refund has a negative amount."})
    return ConversionReport(
        outcome=outcome, amount=minor_units, currency=code, external_id=external_id, click_id=click,
        interaction_id=interaction, occurred_at=occurred_at,
    )  # fmt: skip


def _attribution(
    *, source: MonetizationSource, report: ConversionReport, at: datetime
) -> tuple[Click | None, Any, dict[str, Any]]:
    """(click, interaction id, explanation): last touch by click id within the source's window, else an explicit
    interaction, else unattributed. The explanation is stored with the conversion, for people to read."""
    window = timedelta(days=source.attribution_window_days)
    explanation: dict[str, Any] = {"window_days": source.attribution_window_days}
    if report.click_id:
        click = None
        with contextlib.suppress(ValueError):  # not a UUID: not one of ours
            click = (
                Click.objects.select_related("interaction__rule")
                .filter(tenant_id=source.tenant_id, pk=UUID(report.click_id))
                .first()
            )
        if click is None:
            explanation.update(method="none", reason=f"click id {report.click_id} is not a Botyard click")
        elif click.clicked_at > at + timedelta(minutes=5):
            explanation.update(method="none", reason="the click came after the conversion")
        elif at - click.clicked_at > window:
            explanation.update(
                method="none", click_id=str(click.pk),
                reason=f"the click was {(at - click.clicked_at).days} days before, outside the window",
            )  # fmt: skip
        else:
            interaction = click.interaction
            explanation.update(
                method="click", click_id=str(click.pk), clicked_at=click.clicked_at.isoformat(),
                link_id=str(click.link_id),
                interaction_id=str(interaction.pk) if interaction else None,
                rule_id=str(interaction.rule_id) if interaction and interaction.rule_id else None,
                rule_name=interaction.rule.name if interaction and interaction.rule else None,
                reason="last click within the attribution window"
                + ("" if interaction else "; the link was not clicked from a bot reply"),
            )  # fmt: skip
            return click, click.interaction_id, explanation
    if report.interaction_id:
        if not Interaction.objects.filter(tenant_id=source.tenant_id, pk=report.interaction_id).exists():
            raise ValidationError({"interaction": "No such interaction."})
        explanation.update(method="interaction", interaction_id=str(report.interaction_id),
                           reason="the interaction was named explicitly")  # fmt: skip
        return None, report.interaction_id, explanation
    explanation.setdefault("method", "none")
    explanation.setdefault("reason", "no click id and no interaction given")
    return None, None, explanation


def conversion_record(
    *, source: MonetizationSource, report: ConversionReport, via: str = Conversion.Via.POSTBACK
) -> tuple[Conversion, bool]:
    """Records the conversion once per (source, external id); returns (conversion, created).

    A repeat, sequential or concurrent, returns the first record unchanged; every accepted report is also kept as
    a receipt, so reconciliation can show what arrived against what the ledger holds.
    """
    now = timezone.now()
    occurred_at = report.occurred_at or now
    existing = Conversion.objects.filter(source=source, external_id=report.external_id).first()
    created = False
    if existing is None:
        click, interaction_id, explanation = _attribution(source=source, report=report, at=occurred_at)
        try:
            with transaction.atomic():
                existing = Conversion.objects.create(
                    tenant_id=source.tenant_id, source=source, interaction_id=interaction_id, attributed_click=click,
                    human_click_at=click.clicked_at if click is not None and not click.is_bot else None,
                    click_id=report.click_id, outcome=report.outcome, amount=report.amount,
                    currency=report.currency, external_id=report.external_id, occurred_at=occurred_at, via=via,
                    attribution=explanation,
                )  # fmt: skip
                created = True
        except IntegrityError:
            existing = Conversion.objects.get(source=source, external_id=report.external_id)
    PostbackReceipt.objects.create(
        tenant_id=source.tenant_id, source=source, conversion=existing, external_id=report.external_id,
        outcome=report.outcome, amount=report.amount, currency=report.currency, duplicate=not created,
        received_at=now,
    )  # fmt: skip
    logger.info(
        "conversion recorded" if created else "conversion duplicate",
        extra={"source": str(source.pk), "outcome": report.outcome, "attributed": bool(existing.interaction_id)},
    )
    return existing, created
