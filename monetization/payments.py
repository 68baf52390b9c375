"""Stripe-style signed payment webhooks: verify the signature, map the event to a conversion, record it once.

A subscription or donation source receives events at `webhook_url`, signed with its `webhook_secret` exactly as
Stripe signs them (`Stripe-Signature: t=<epoch>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`), so a Stripe account
can point at Botyard directly and the project's fakes can sign with `signature_header`.
"""

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from monetization.models import Conversion, MonetizationSource, WebhookEvent
from monetization.services import ConversionReport, conversion_record, conversion_report_clean

logger = logging.getLogger("botyard.monetization")

PAYMENT_SOURCE_KINDS = frozenset({MonetizationSource.Kind.SUBSCRIPTION, MonetizationSource.Kind.DONATION})
DEFAULT_TOLERANCE_SECONDS = 300
MAX_CLICK_ID_LENGTH = 64

_TIMESTAMP = re.compile(r"\d{1,12}", re.ASCII)


# --- Signatures ------------------------------------------------------------------------------------------------------


class SignatureError(Exception):
    """The request is not signed by the source's secret (`invalid_signature`) or not recently (`stale_signature`)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _signature(*, secret: str, payload: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, payload: bytes, timestamp: int) -> str:
    """The `Stripe-Signature` value a provider holding `secret` sends with `payload` at `timestamp`."""
    return f"t={timestamp},v1={_signature(secret=secret, payload=payload, timestamp=timestamp)}"


def signature_tolerance_seconds() -> int:
    return int(getattr(settings, "PAYMENT_WEBHOOK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS))


def signature_verify(
    *, header: str | None, payload: bytes, secret: str, now: float | None = None, tolerance: int | None = None
) -> int:
    """Returns the signed timestamp, or raises SignatureError.

    Like Stripe: any one of several `v1` signatures may match (secrets are rolled that way), other schemes are
    ignored. The timestamp is judged only once the signature holds, so `stale_signature` is never an answer to
    someone who does not know the secret.
    """
    if not header:
        raise SignatureError("invalid_signature", "The Stripe-Signature header is missing.")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                raise SignatureError("invalid_signature", "The Stripe-Signature header has no single valid t=.")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None:
        raise SignatureError("invalid_signature", "The Stripe-Signature header has no timestamp (t=).")
    if not candidates:
        raise SignatureError("invalid_signature", "The Stripe-Signature header has no v1 signature.")
    expected = _signature(secret=secret, payload=payload, timestamp=timestamp).encode()
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("invalid_signature", "No signature matches the body for this source's secret.")
    tolerance = signature_tolerance_seconds() if tolerance is None else tolerance
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("stale_signature", f"The signature's timestamp is more than {tolerance} s from now.")
    return timestamp


# --- Events ----------------------------------------------------------------------------------------------------------


def payment_event_parse(payload: bytes) -> dict[str, Any]:
    """The event object of a (verified) body; ValidationError if it is not a JSON object."""
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        raise ValidationError("The body is not valid JSON.") from None
    if not isinstance(event, dict):
        raise ValidationError("The body must be a JSON object (a Stripe event).")
    return event


@dataclass(frozen=True)
class PaymentEvent:
    """A validated event: its id and type, and the conversion it reports (None for a type we do not map).

    For a refund, `refund_of` is the charge id and `report.amount` is the charge's cumulative refunded total,
    negated; the service turns it into the increase over what is already recorded.
    """

    id: str
    type: str
    report: ConversionReport | None
    refund_of: str = ""
    ignored_because: str = ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _metadata_click_id(payment: Mapping[str, Any]) -> str:
    metadata = payment.get("metadata")
    return _text(metadata.get("click_id")) if isinstance(metadata, Mapping) else ""


def _click_id(*candidates: str) -> str:
    """The first candidate that can be one of our click ids. An over-long value (a client_reference_id used for
    the integrator's own purposes) is dropped rather than refused: a payment is never rejected for attribution."""
    for candidate in candidates:
        if candidate and len(candidate) <= MAX_CLICK_ID_LENGTH:
            return candidate
    return ""


def _minor_units(payment: Mapping[str, Any], key: str) -> int:
    value = payment.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError({f"data.object.{key}": "A non-negative integer number of minor units is required."})
    return value


def _epoch(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError({field: "Epoch seconds (an integer)."})
    try:
        moment = datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValidationError({field: "Epoch seconds (an integer)."}) from None
    return min(moment, timezone.now())  # a provider's clock ahead of ours must not date a payment in the future


def _report(
    *, amount_key: str, outcome: str, amount: int, currency: Any, txn_id: str, click_id: str,
    occurred_at: datetime | None,
) -> ConversionReport:  # fmt: skip
    """conversion_report_clean, its field names translated back to the event's, so a 400 says what to fix."""
    try:
        return conversion_report_clean(
            event=outcome, amount=amount, currency=currency, txn_id=txn_id, click_id=click_id, occurred_at=occurred_at
        )
    except ValidationError as exc:
        names = {"amount": f"data.object.{amount_key}", "currency": "data.object.currency", "txn_id": "data.object.id"}
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        raise ValidationError({names.get(name, name): messages for name, messages in fields.items()}) from None


def _payment_id(payment: Mapping[str, Any], prefix_hint: str) -> str:
    payment_id = _text(payment.get("id"))
    if not payment_id:
        raise ValidationError({"data.object.id": f"The object's id ({prefix_hint}...) is required."})
    return payment_id


def _checkout_session_completed(
    *, source_kind: str, event_id: str, event_type: str, payment: Mapping[str, Any], occurred_at: datetime | None
) -> PaymentEvent:
    # A checkout is a new subscriber for a subscription source and a gift for a donation source.
    outcome = (
        Conversion.Outcome.DONATION
        if source_kind == MonetizationSource.Kind.DONATION
        else Conversion.Outcome.SUBSCRIPTION
    )
    report = _report(
        amount_key="amount_total", outcome=outcome,
        amount=_minor_units(payment, "amount_total"), currency=payment.get("currency"),
        txn_id=_payment_id(payment, "cs_"),
        click_id=_click_id(_metadata_click_id(payment), _text(payment.get("client_reference_id"))),
        occurred_at=occurred_at,
    )  # fmt: skip
    return PaymentEvent(id=event_id, type=event_type, report=report)


def _invoice_paid(
    *, source_kind: str, event_id: str, event_type: str, payment: Mapping[str, Any], occurred_at: datetime | None
) -> PaymentEvent:
    if payment.get("billing_reason") == "subscription_create":
        # The first invoice of a subscription is the payment its checkout.session.completed already reported:
        # counting both would double the first period's revenue. Renewals (subscription_cycle ...) are recorded.
        return PaymentEvent(
            id=event_id, type=event_type, report=None,
            ignored_because="the first invoice of a subscription is reported by its checkout session",
        )  # fmt: skip
    subscription_details = payment.get("subscription_details")
    report = _report(
        amount_key="amount_paid", outcome=Conversion.Outcome.SUBSCRIPTION,
        amount=_minor_units(payment, "amount_paid"), currency=payment.get("currency"),
        txn_id=_payment_id(payment, "in_"),
        click_id=_click_id(
            _metadata_click_id(payment),
            _metadata_click_id(subscription_details) if isinstance(subscription_details, Mapping) else "",
        ),
        occurred_at=occurred_at,
    )  # fmt: skip
    return PaymentEvent(id=event_id, type=event_type, report=report)


def _charge_refunded(
    *, source_kind: str, event_id: str, event_type: str, payment: Mapping[str, Any], occurred_at: datetime | None
) -> PaymentEvent:
    charge_id = _payment_id(payment, "ch_")
    refunded = _minor_units(payment, "amount_refunded")
    report = _report(
        amount_key="amount_refunded", outcome=Conversion.Outcome.REFUND, amount=refunded,
        currency=payment.get("currency"), txn_id=f"{charge_id}:refund:{refunded}",
        click_id=_click_id(_metadata_click_id(payment)), occurred_at=occurred_at,
    )  # fmt: skip
    return PaymentEvent(id=event_id, type=event_type, report=report, refund_of=charge_id)


_Mapper = Callable[..., PaymentEvent]

EVENT_MAPPERS: dict[str, tuple[_Mapper, tuple[str, ...]]] = {
    # event type: (mapper, where in the object the payment time is when the event has no `created`)
    "checkout.session.completed": (_checkout_session_completed, ("created",)),
    "invoice.paid": (_invoice_paid, ("status_transitions.paid_at", "created")),
    "charge.refunded": (_charge_refunded, ("created",)),
}


def _dig(payment: Mapping[str, Any], path: str) -> Any:
    value: Any = payment
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def payment_event_clean(*, source_kind: str, event: Mapping[str, Any]) -> PaymentEvent:
    """Validates an event and maps it to a conversion report; ValidationError names every field to fix."""
    event_id = _text(event.get("id"))
    event_type = _text(event.get("type"))
    errors: dict[str, str] = {}
    if not event_id or len(event_id) > 255:
        errors["id"] = "The event id (evt_...) is required, at most 255 characters."
    if not event_type or len(event_type) > 100:
        errors["type"] = "The event type is required, at most 100 characters."
    if errors:
        raise ValidationError(errors)
    mapped = EVENT_MAPPERS.get(event_type)
    if mapped is None:
        return PaymentEvent(id=event_id, type=event_type, report=None, ignored_because="event type not mapped")
    mapper, time_paths = mapped
    data = event.get("data")
    payment = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(payment, Mapping):
        raise ValidationError({"data.object": "The event carries no object."})
    occurred_at = _epoch(event.get("created"), "created")
    for path in time_paths:
        if occurred_at is None:
            occurred_at = _epoch(_dig(payment, path), f"data.object.{path}")
    return mapper(
        source_kind=source_kind, event_id=event_id, event_type=event_type, payment=payment, occurred_at=occurred_at
    )


# --- Recording -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentEventResult:
    status: str  # "recorded" | "duplicate" | "ignored"
    conversion: Conversion | None = None


def _refunded_total(*, source: MonetizationSource, charge_id: str) -> int:
    """What is already recorded as refunded for the charge, as a positive number of minor units."""
    total = Conversion.objects.filter(
        source=source, outcome=Conversion.Outcome.REFUND, external_id__startswith=f"{charge_id}:refund:"
    ).aggregate(total=Sum("amount"))["total"]
    return -int(total or 0)


def payment_event_record(*, source: MonetizationSource, event: Mapping[str, Any]) -> PaymentEventResult:
    """Records a verified event once per (source, event id), with its conversion in the same transaction.

    A replay, sequential or concurrent (the unique constraint decides), is a `duplicate` and changes nothing.
    Events of other types are kept too, so that their replays are duplicates as well. ValidationError (nothing
    stored) when a mapped event's data is unusable.
    """
    cleaned = payment_event_clean(source_kind=source.kind, event=event)
    with transaction.atomic():
        if cleaned.refund_of:
            # Refunds of one source take turns, so each records only the increase over the ones before it. NO KEY
            # UPDATE does not conflict with the KEY SHARE locks that inserting rows referencing the source takes.
            list(MonetizationSource.objects.select_for_update(no_key=True).filter(pk=source.pk).values_list("pk"))
        try:
            with transaction.atomic():
                WebhookEvent.objects.create(
                    tenant_id=source.tenant_id, source=source, event_id=cleaned.id, event_type=cleaned.type
                )
        except IntegrityError:
            logger.info("payment event duplicate", extra={"source": str(source.pk), "event_type": cleaned.type})
            return PaymentEventResult(status="duplicate")
        report = cleaned.report
        if report is None:
            logger.info(
                "payment event ignored",
                extra={"source": str(source.pk), "event_type": cleaned.type, "reason": cleaned.ignored_because},
            )
            return PaymentEventResult(status="ignored")
        if cleaned.refund_of:
            increase = -report.amount - _refunded_total(source=source, charge_id=cleaned.refund_of)
            if increase <= 0:
                # Already covered: the same cumulative total again, or an older event arriving after a newer one.
                covered = Conversion.objects.filter(source=source, external_id=report.external_id).first()
                return PaymentEventResult(status="duplicate", conversion=covered)
            report = replace(report, amount=-increase)
        conversion, created = conversion_record(source=source, report=report, via=Conversion.Via.WEBHOOK)
    return PaymentEventResult(status="recorded" if created else "duplicate", conversion=conversion)
