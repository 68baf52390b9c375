"""Signed payment webhooks: POST /hooks/payments/<token>/ with Stripe-style events, through the HTTP endpoint."""

import contextlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from monetization import payments
from monetization.models import Click, Conversion, PostbackReceipt, WebhookEvent
from monetization.payment_views import payment_webhook
from monetization.payments import SignatureError, payment_event_record, signature_header, signature_verify
from monetization.services import ClickTarget, click_record, link_create, source_create

# The route as monetization/urls.py declares it; kept here so these tests do not depend on when it is wired in.
urlpatterns = [
    path("hooks/payments/<str:token>/", payment_webhook, name="payment-webhook"),
    *project_urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

CREATED = 1_750_000_000  # 2025-06-15T15:06:40Z


@pytest.fixture
def source(tenant):
    return source_create(tenant=tenant, name="Members", kind="subscription")


def event(event_type: str, payment: dict[str, Any], *, event_id: str = "evt_1", created: int = CREATED) -> dict:
    return {"id": event_id, "object": "event", "type": event_type, "created": created, "data": {"object": payment}}


def checkout(*, amount: Any = 1500, currency: str = "usd", **fields: Any) -> dict:
    return event("checkout.session.completed", {"id": "cs_test_1", "object": "checkout.session",
                                                "amount_total": amount, "currency": currency, **fields})  # fmt: skip


def refund(*, refunded: int, event_id: str, charge: str = "ch_1") -> dict:
    return event(
        "charge.refunded",
        {"id": charge, "object": "charge", "amount": 2000, "amount_refunded": refunded, "currency": "usd"},
        event_id=event_id,
    )


@pytest.fixture
def deliver(client) -> Callable[..., Any]:
    """POSTs an event to the source's webhook URL, signed with its secret now unless told otherwise."""

    def post(source, payload: dict | None = None, *, body: bytes | None = None, secret: str | None = None,
             timestamp: int | None = None, header: str | None = None, sign: bool = True):  # fmt: skip
        raw = body if body is not None else json.dumps(payload).encode()
        headers = {}
        if header is not None:
            headers["Stripe-Signature"] = header
        elif sign:
            headers["Stripe-Signature"] = signature_header(
                secret=secret or source.webhook_secret, payload=raw, timestamp=timestamp or int(time.time())
            )
        return client.post(urlsplit(source.webhook_url).path, raw, content_type="application/json", headers=headers)

    return post


def nothing_stored() -> bool:
    return not (Conversion.objects.exists() or WebhookEvent.objects.exists() or PostbackReceipt.objects.exists())


def test_a_signed_checkout_records_a_subscription(source, deliver):
    response = deliver(source, checkout(amount=1500, currency="usd"))

    assert response.status_code == 200
    conversion = Conversion.objects.get()
    assert response.json() == {"status": "recorded", "conversion": str(conversion.pk)}
    assert (conversion.source, conversion.outcome, conversion.amount, conversion.currency) == (
        source, "subscription", 1500, "USD"
    )  # fmt: skip
    assert (conversion.external_id, conversion.via) == ("cs_test_1", "webhook")
    assert conversion.occurred_at == datetime.fromtimestamp(CREATED, tz=UTC)
    assert WebhookEvent.objects.get().event_type == "checkout.session.completed"


def test_a_donation_source_records_a_checkout_as_a_donation(tenant, deliver):
    source = source_create(tenant=tenant, name="Tip jar", kind="donation")

    deliver(source, checkout(amount=500, currency="eur"))

    assert Conversion.objects.values_list("outcome", "amount", "currency").get() == ("donation", 500, "EUR")


def test_a_paid_invoice_records_a_renewal(source, deliver):
    deliver(source, checkout(amount=900))
    paid = event("invoice.paid", {"id": "in_2", "object": "invoice", "amount_paid": 900, "currency": "usd",
                                  "subscription": "sub_1", "billing_reason": "subscription_cycle"},
                 event_id="evt_2")  # fmt: skip

    response = deliver(source, paid)

    assert response.json()["status"] == "recorded"
    assert sorted(Conversion.objects.values_list("external_id", "outcome", "amount")) == [
        ("cs_test_1", "subscription", 900), ("in_2", "subscription", 900)
    ]  # fmt: skip


def test_the_first_invoice_of_a_subscription_is_not_counted_twice(source, deliver):
    # Stripe sends both checkout.session.completed and invoice.paid (billing_reason subscription_create) for it.
    deliver(source, checkout(amount=900))
    first_invoice = event("invoice.paid", {"id": "in_1", "amount_paid": 900, "currency": "usd", "subscription": "sub_1",
                                           "billing_reason": "subscription_create"}, event_id="evt_2")  # fmt: skip

    response = deliver(source, first_invoice)

    assert response.json() == {"status": "ignored"}
    assert Conversion.objects.values_list("external_id", flat=True).get() == "cs_test_1"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"sign": False}, id="missing header"),
        pytest.param({"header": "not a signature"}, id="malformed header"),
        pytest.param({"header": "t=soon,v1=abc"}, id="non-numeric timestamp"),
        pytest.param({"header": f"t={int(time.time())}"}, id="no v1 signature"),
        pytest.param({"secret": "whsec_someone_else"}, id="wrong secret"),
        pytest.param({"body": b'{"id": "evt_1", "type": "checkout.session.completed", "tampered": 1}'}, id="tampered"),
    ],
)
def test_an_unverifiable_event_is_refused_and_nothing_is_stored(source, deliver, tamper):
    payload = checkout()
    if "body" in tamper:
        # Signed over the genuine body, delivered with another one.
        genuine = json.dumps(payload).encode()
        tamper = {"header": signature_header(secret=source.webhook_secret, payload=genuine, timestamp=int(time.time())),
                  "body": tamper["body"]}  # fmt: skip

    response = deliver(source, payload, **tamper)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert nothing_stored()


def test_one_matching_signature_among_several_is_enough(source, deliver):
    # Stripe sends a v1 per active secret while one is being rolled.
    raw = json.dumps(checkout()).encode()
    now = int(time.time())
    genuine = signature_header(secret=source.webhook_secret, payload=raw, timestamp=now).split("v1=")[1]
    header = f"t={now},v1={'0' * 64},v0=ignored,v1={genuine}"

    response = deliver(source, body=raw, header=header)

    assert response.json()["status"] == "recorded"


@pytest.mark.parametrize("offset", [-360, 360], ids=["too old", "too far ahead"])
def test_a_signature_outside_the_tolerance_is_stale(source, deliver, offset):
    response = deliver(source, checkout(), timestamp=int(time.time()) + offset)

    assert response.status_code == 400
    assert response.json()["code"] == "stale_signature"
    assert nothing_stored()


@pytest.mark.parametrize(("skew", "accepted"), [(-300, True), (300, True), (-301, False), (301, False)])
def test_the_tolerance_is_300_seconds_both_ways(skew, accepted):
    payload, secret, signed_at = b'{"id": "evt_1"}', "whsec_test", 1_750_000_000
    header = signature_header(secret=secret, payload=payload, timestamp=signed_at)

    def verify():
        return signature_verify(header=header, payload=payload, secret=secret, now=signed_at + skew)

    if accepted:
        assert verify() == signed_at
    else:
        with pytest.raises(SignatureError) as refused:
            verify()
        assert refused.value.code == "stale_signature"


def test_the_tolerance_is_a_setting(source, deliver, settings):
    settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS = 10

    response = deliver(source, checkout(), timestamp=int(time.time()) - 60)

    assert response.json()["code"] == "stale_signature"


def test_a_replayed_event_is_a_duplicate_and_changes_nothing(source, deliver):
    first = deliver(source, checkout())
    replay = deliver(source, checkout(amount=99999))

    assert first.json()["status"] == "recorded"
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    assert Conversion.objects.values_list("amount", flat=True).get() == 1500
    assert WebhookEvent.objects.count() == 1
    assert PostbackReceipt.objects.count() == 1


def test_an_unmapped_event_type_is_ignored_and_its_replay_is_a_duplicate(source, deliver):
    payload = event("customer.created", {"id": "cus_1", "object": "customer"})

    assert deliver(source, payload).json() == {"status": "ignored"}
    assert deliver(source, payload).json() == {"status": "duplicate"}
    assert WebhookEvent.objects.values_list("event_type", flat=True).get() == "customer.created"
    assert not Conversion.objects.exists()


@pytest.mark.parametrize(
    ("payment", "field"),
    [
        pytest.param({"amount": None}, "data.object.amount_total", id="missing amount"),
        pytest.param({"amount": "15.00"}, "data.object.amount_total", id="amount not an integer"),
        pytest.param({"currency": "xyz"}, "data.object.currency", id="unknown currency"),
        pytest.param({"id": ""}, "data.object.id", id="missing id"),
    ],
)
def test_a_recognised_event_with_bad_data_is_refused_with_the_reason(source, deliver, payment, field):
    payload = checkout(**{key: value for key, value in payment.items() if key in ("amount", "currency")})
    if "id" in payment:
        payload["data"]["object"]["id"] = payment["id"]

    response = deliver(source, payload)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert field in response.json()["detail"]
    assert nothing_stored()


def test_a_body_that_is_not_json_is_refused(source, deliver):
    response = deliver(source, body=b"evt_1 paid")

    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert nothing_stored()


def test_refunds_are_negative_and_a_larger_partial_refund_records_only_the_increase(source, deliver):
    first = deliver(source, refund(refunded=500, event_id="evt_r1"))
    second = deliver(source, refund(refunded=800, event_id="evt_r2"))
    late_copy_of_first = deliver(source, refund(refunded=500, event_id="evt_r1_again"))

    assert (first.json()["status"], second.json()["status"]) == ("recorded", "recorded")
    assert late_copy_of_first.json()["status"] == "duplicate"
    assert sorted(Conversion.objects.values_list("external_id", "outcome", "amount")) == [
        ("ch_1:refund:500", "refund", -500), ("ch_1:refund:800", "refund", -300)
    ]  # fmt: skip


def test_refunds_of_another_charge_do_not_count(source, deliver):
    deliver(source, refund(refunded=500, event_id="evt_r1", charge="ch_1"))
    deliver(source, refund(refunded=700, event_id="evt_r2", charge="ch_10"))

    assert Conversion.objects.get(external_id="ch_10:refund:700").amount == -700


def test_the_event_is_not_kept_when_its_conversion_cannot_be_recorded(source, monkeypatch):
    def failing_record(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(payments, "conversion_record", failing_record)

    with pytest.raises(RuntimeError):
        payment_event_record(source=source, event=checkout())

    assert nothing_stored()  # so the provider's retry is recorded, not taken for a duplicate


def test_a_source_of_another_kind_has_no_payment_webhook(tenant, deliver):
    affiliate = source_create(tenant=tenant, name="Kayak shop", kind="affiliate")

    response = deliver(affiliate, checkout(), secret="whsec_guess")

    assert response.status_code == 404
    assert nothing_stored()


def test_an_unknown_token_is_not_found(client):
    response = client.post("/hooks/payments/no-such-token-000000000000/", b"{}", content_type="application/json")

    assert response.status_code == 404


def test_only_post_is_allowed(source, client):
    assert client.get(urlsplit(source.webhook_url).path).status_code == 405


def test_an_oversized_body_is_refused(source, deliver):
    payload = checkout(padding="x" * 256 * 1024)

    response = deliver(source, payload)

    assert response.status_code == 413
    assert nothing_stored()


def test_a_payment_is_attributed_to_the_click_named_in_its_metadata(tenant, source, deliver):
    link = link_create(tenant=tenant, destination_url="https://shop.example.com/join")
    redirect = click_record(
        target=ClickTarget(link=link, interaction_id=None), user_agent="Mozilla/5.0", ip="127.0.0.1"
    )
    click_id = parse_qs(urlsplit(redirect).query)["click_id"][0]
    now = int(time.time())

    deliver(source, event("invoice.paid", {"id": "in_1", "amount_paid": 900, "currency": "usd",
                                           "metadata": {"click_id": click_id}}, created=now))  # fmt: skip

    conversion = Conversion.objects.get()
    assert conversion.attributed_click == Click.objects.get(pk=click_id)
    assert conversion.click_id == click_id


def test_a_checkout_falls_back_to_client_reference_id_for_the_click(tenant, source, deliver):
    link = link_create(tenant=tenant, destination_url="https://shop.example.com/join")
    redirect = click_record(
        target=ClickTarget(link=link, interaction_id=None), user_agent="Mozilla/5.0", ip="127.0.0.1"
    )
    click_id = parse_qs(urlsplit(redirect).query)["click_id"][0]

    session = {"id": "cs_1", "amount_total": 900, "currency": "usd", "client_reference_id": click_id}

    deliver(source, event("checkout.session.completed", session, created=int(time.time())))

    assert str(Conversion.objects.get().attributed_click_id) == click_id


# --- Concurrency (PostgreSQL: SQLite serialises writers, so there is no race to lose) ---------------------------------


def _concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Runs the calls in threads released together; each thread has its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.fixture
def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency needs PostgreSQL (DATABASE_URL)")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql_only")
def test_concurrent_replays_record_the_event_once(source):
    results = _concurrently(*[lambda: payment_event_record(source=source, event=checkout())] * 4)

    assert sorted(result.status for result in results) == ["duplicate", "duplicate", "duplicate", "recorded"]
    assert Conversion.objects.count() == 1
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("postgresql_only")
def test_concurrent_partial_refunds_add_up_to_the_refunded_total(source, monkeypatch):
    # Each refund, having summed the earlier ones, waits (bounded) for the other to have summed too: without the
    # per-source lock both sum nothing and record 500 + 800; with it the second one cannot get there first.
    both_summed = threading.Barrier(2)
    refunded_total = payments._refunded_total

    def refunded_total_then_rendezvous(**kwargs):
        total = refunded_total(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_summed.wait(timeout=2)
        return total

    monkeypatch.setattr(payments, "_refunded_total", refunded_total_then_rendezvous)

    results = _concurrently(
        lambda: payment_event_record(source=source, event=refund(refunded=500, event_id="evt_r1")),
        lambda: payment_event_record(source=source, event=refund(refunded=800, event_id="evt_r2")),
    )

    assert all(result is not None for result in results)
    assert sum(Conversion.objects.values_list("amount", flat=True)) == -800
