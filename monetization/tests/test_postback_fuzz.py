"""Whatever a source (or anyone holding its URL) sends to a postback, a payment webhook or a short link is answered
with a 2xx, a 3xx or a 4xx, never a 500, and a 4xx records nothing."""

import json
import math
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monetization.models import Click, Conversion, PostbackReceipt, WebhookEvent
from monetization.payments import signature_header
from monetization.services import conversion_report_clean, source_create
from monetization.tests.factories import LinkFactory

pytestmark = pytest.mark.django_db

FUZZ_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip

PARAMETERS = ["click_id", "event", "amount", "currency", "txn_id"]
awkward_text = st.text() | st.sampled_from(["\x00", "tx\x00n", "\ud800", "1e400", "-0", "١٢٣", " purchase ", "usd"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | awkward_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)  # fmt: skip
# Mostly the parameters a source sends, with plausible values half the time, so examples get past validation.
plausible = {
    "event": st.sampled_from(Conversion.Outcome.values),
    "amount": st.integers(min_value=-(10**16), max_value=10**16).map(str),
    "currency": st.sampled_from(["USD", "jpy", "EUR", "XXX"]),
    "txn_id": st.text(min_size=1, max_size=260),
    "click_id": st.uuids().map(str) | st.text(max_size=70),
}
query_parameters = st.dictionaries(
    st.sampled_from(PARAMETERS) | st.text(max_size=8),
    st.one_of(*plausible.values()) | awkward_text,
    max_size=6,
)
json_parameters = st.dictionaries(
    st.sampled_from(PARAMETERS) | st.text(max_size=8), st.one_of(*plausible.values()) | json_values, max_size=6
)


def _records() -> tuple[int, int, int, int]:
    return (
        Conversion.objects.count(), PostbackReceipt.objects.count(), WebhookEvent.objects.count(),
        Click.objects.count(),
    )  # fmt: skip


def _assert_4xx_records_nothing(response: Any, *, before: tuple[int, ...]) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert _records() == before, response.content


@pytest.fixture
def postback_path(tenant: Any) -> str:
    source = source_create(tenant=tenant, name="Kayak Shop", kind="affiliate")
    return urlsplit(source.postback_url).path


@pytest.fixture
def payment_source(tenant: Any) -> Any:
    return source_create(tenant=tenant, name="Members", kind="subscription")


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(parameters=json_parameters)
@example(parameters={"event": "purchase", "amount": "100", "currency": "USD", "txn_id": "tx\x00n"})
@example(parameters={"event": "purchase", "amount": "100", "currency": "USD", "txn_id": "t", "click_id": "\ud800"})
@example(parameters={"event": "purchase", "amount": math.inf, "currency": "USD", "txn_id": "t"})
def test_a_report_is_either_clean_and_storable_or_refused(parameters: dict[str, Any]) -> None:
    try:
        report = conversion_report_clean(
            event=parameters.get("event"), amount=parameters.get("amount"), currency=parameters.get("currency"),
            txn_id=parameters.get("txn_id"), click_id=parameters.get("click_id"),
        )  # fmt: skip
    except ValidationError:
        return
    for text in (report.external_id, report.click_id):
        assert "\x00" not in text
        text.encode("utf-8")  # strict: no lone surrogates
    assert 0 < len(report.external_id) <= 255
    assert len(report.click_id) <= 64
    assert report.outcome in Conversion.Outcome.values
    assert abs(report.amount) < 10**15
    assert (report.amount < 0) == (report.outcome == "refund" and report.amount != 0)


@FUZZ_SETTINGS
@given(parameters=query_parameters)
@example(parameters={"event": "purchase", "amount": "100", "currency": "USD", "txn_id": "tx\x00n"})
def test_a_get_postback_with_any_query_string_is_a_2xx_or_a_4xx_recording_nothing(
    parameters: dict[str, str], client: Any, postback_path: str
) -> None:
    before = _records()

    response = client.get(f"{postback_path}?{urlencode(parameters, encoding='utf-8', errors='surrogatepass')}")

    _assert_4xx_records_nothing(response, before=before)


@FUZZ_SETTINGS
@given(parameters=json_parameters)
@example(parameters={"event": "purchase", "amount": "100", "currency": "USD", "txn_id": "\ud800"})
def test_a_json_postback_with_any_object_is_a_2xx_or_a_4xx_recording_nothing(
    parameters: dict[str, Any], client: Any, postback_path: str
) -> None:
    before = _records()

    response = client.post(postback_path, json.dumps(parameters), content_type="application/json")

    _assert_4xx_records_nothing(response, before=before)


@FUZZ_SETTINGS
@given(
    body=st.binary(max_size=200),
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
                                  "text/plain", "multipart/form-data; boundary=x"]),
)  # fmt: skip
def test_a_postback_with_any_bytes_is_a_2xx_or_a_4xx_recording_nothing(
    body: bytes, content_type: str, client: Any, postback_path: str
) -> None:
    before = _records()

    response = client.generic("POST", postback_path, body, content_type=content_type)

    _assert_4xx_records_nothing(response, before=before)


def _stripe_event(draw: Any) -> Any:
    payment = draw(
        st.fixed_dictionaries(
            {"id": awkward_text, "currency": st.sampled_from(["usd", "jpy"]) | awkward_text},
            optional={
                "amount_total": st.integers(min_value=-5, max_value=10**16) | json_values,
                "amount_paid": st.integers(min_value=-5, max_value=10**16) | json_values,
                "amount_refunded": st.integers(min_value=-5, max_value=10**16) | json_values,
                "metadata": st.dictionaries(st.just("click_id") | st.text(max_size=5), awkward_text) | json_values,
                "client_reference_id": awkward_text | json_values,
                "billing_reason": st.sampled_from(["subscription_create", "subscription_cycle"]) | json_values,
                "created": st.integers() | json_values,
            },
        )
    )
    event_type = draw(
        st.sampled_from(["checkout.session.completed", "invoice.paid", "charge.refunded", "customer.created"])
        | awkward_text
    )
    return draw(
        st.fixed_dictionaries(
            {"id": awkward_text, "type": st.just(event_type), "data": st.just({"object": payment}) | json_values},
            optional={"created": st.integers() | json_values},
        )
        | json_values
    )


@FUZZ_SETTINGS
@given(event=st.composite(_stripe_event)())
@example(event={"id": "evt_\x00", "type": "customer.created", "data": {"object": {}}})
@example(event={"id": "evt_1", "type": "\ud800", "data": {"object": {}}})
def test_a_signed_payment_event_of_any_shape_is_a_2xx_or_a_4xx_recording_nothing(
    event: Any, client: Any, payment_source: Any
) -> None:
    # Signed with the source's secret, so every example reaches the parser rather than stopping at the signature.
    body = json.dumps(event).encode("utf-8", "surrogatepass")
    header = signature_header(secret=payment_source.webhook_secret, payload=body, timestamp=int(time.time()))
    before = _records()

    response = client.post(
        urlsplit(payment_source.webhook_url).path, body, content_type="application/json",
        headers={"Stripe-Signature": header},
    )  # fmt: skip

    _assert_4xx_records_nothing(response, before=before)


@FUZZ_SETTINGS
@given(body=st.binary(max_size=200), header=st.none() | st.text(max_size=80))
def test_an_unsigned_or_badly_signed_payment_body_is_a_4xx_recording_nothing(
    body: bytes, header: str | None, client: Any, payment_source: Any
) -> None:
    before = _records()
    headers = {"Stripe-Signature": header.encode("utf-8", "replace").decode("latin-1")} if header else {}

    response = client.post(
        urlsplit(payment_source.webhook_url).path, body, content_type="application/json", headers=headers
    )

    assert 400 <= response.status_code < 500, response.content
    assert _records() == before


@pytest.fixture
def kayak_link(tenant: Any) -> Any:
    return LinkFactory(tenant=tenant, code="kayak123")


@FUZZ_SETTINGS
@given(code=st.text(min_size=1, max_size=20).filter(lambda code: "/" not in code) | st.just("ab\x00cd"))
@example(code="kayak123")
def test_a_short_link_with_any_code_redirects_or_is_a_404(code: str, client: Any, kayak_link: Any) -> None:
    before = _records()

    response = client.get(f"/l/{code}")

    assert response.status_code in (302, 404), response.content
    assert _records() == (before if response.status_code == 404 else (before[0], before[1], before[2], before[3] + 1))
