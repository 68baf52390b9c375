"""The revenue ledger and reconciliation: selectors, a property (arrival order cannot change the money), the API."""

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.tests.factories import InteractionFactory
from monetization.api.ledger_views import ReconciliationView, RevenueLedgerView
from monetization.ledger import format_minor_units, reconciliation, revenue_ledger, revenue_totals
from monetization.models import Conversion
from monetization.services import conversion_record, conversion_report_clean, source_create
from tenants.tests.factories import TenantFactory

# The views are routed here by this module until the project's router includes them (same paths).
urlpatterns = [
    path("api/v1/revenue-ledger/", RevenueLedgerView.as_view(), name="revenue-ledger"),
    path("api/v1/reconciliation/", ReconciliationView.as_view(), name="reconciliation"),
]
with_ledger_urls = pytest.mark.urls(__name__)

LEDGER_URL = "/api/v1/revenue-ledger/"
RECONCILIATION_URL = "/api/v1/reconciliation/"
DAY_1 = datetime(2025, 1, 14, 17, 0, tzinfo=UTC)  # midday in New York, the factories' time zone
DAY_2 = DAY_1 + timedelta(days=1)


def _source(tenant, name="Affiliate"):
    return source_create(tenant=tenant, name=name, kind="affiliate")


def _record(source, *, txn, amount=1000, currency="USD", event="purchase", interaction=None, occurred_at=None):
    report = conversion_report_clean(
        event=event, amount=amount, currency=currency, txn_id=txn,
        interaction=interaction.pk if interaction else None, occurred_at=occurred_at,
    )  # fmt: skip
    conversion, _created = conversion_record(source=source, report=report)
    return conversion


def _around_now(tenant):
    """Yesterday to tomorrow in the tenant's zone: holds `now` even if the test straddles midnight."""
    today = timezone.localdate(timezone=tenant.time_zone)
    return {"start": today - timedelta(days=1), "end": today + timedelta(days=1)}


def _nets(rows, *keys):
    return {tuple(row[key] for key in ("currency", *keys)): row["net"] for row in rows}


# --- The ledger --------------------------------------------------------------------------------------------------


def test_ledger_groups_by_day_source_bot_and_group_and_never_adds_currencies(tenant):
    shop, sponsor = _source(tenant, "Shop"), _source(tenant, "Sponsor")
    first, second = InteractionFactory(tenant=tenant), InteractionFactory(tenant=tenant)
    _record(shop, txn="a", amount=1000, interaction=first, occurred_at=DAY_1)
    _record(shop, txn="b", amount=700, currency="EUR", interaction=first, occurred_at=DAY_1)
    _record(sponsor, txn="c", amount=300, interaction=second, occurred_at=DAY_1)
    _record(shop, txn="d", amount=2000, interaction=first, occurred_at=DAY_2)
    span = {"tenant": tenant, "start": DAY_1.date(), "end": DAY_2.date()}

    everything = revenue_ledger(**span, group_by=["day", "source", "bot", "group"])
    by_source = revenue_ledger(**span, group_by=["source"])
    by_bot = revenue_ledger(**span, group_by=["bot"])
    per_currency = revenue_ledger(**span, group_by=[])

    day_1, day_2 = DAY_1.date(), DAY_2.date()
    first_keys = (shop.pk, first.bot_id, first.group_id)
    assert _nets(everything, "day", "source_id", "bot_id", "group_id") == {
        ("EUR", day_1, *first_keys): 700,
        ("USD", day_1, *first_keys): 1000,
        ("USD", day_1, sponsor.pk, second.bot_id, second.group_id): 300,
        ("USD", day_2, *first_keys): 2000,
    }
    assert [row["currency"] for row in everything] == ["EUR", "USD", "USD", "USD"]
    assert _nets(by_source, "source_id", "source_name") == {
        ("EUR", shop.pk, "Shop"): 700, ("USD", shop.pk, "Shop"): 3000, ("USD", sponsor.pk, "Sponsor"): 300,
    }  # fmt: skip
    assert all(row["day"] is None and row["bot_id"] is None for row in by_source)
    assert _nets(by_bot, "bot_id") == {
        ("EUR", first.bot_id): 700, ("USD", first.bot_id): 3000, ("USD", second.bot_id): 300,
    }  # fmt: skip
    assert _nets(per_currency) == {("EUR",): 700, ("USD",): 3300}


def test_refunds_are_subtracted_and_counted_apart(tenant):
    shop = _source(tenant)
    _record(shop, txn="sale-1", amount=5000, occurred_at=DAY_1)
    _record(shop, txn="sale-2", amount=1000, occurred_at=DAY_1)
    _record(shop, txn="refund-1", amount=1500, event="refund", occurred_at=DAY_1)

    [row] = revenue_ledger(tenant=tenant, start=DAY_1.date(), end=DAY_1.date(), group_by=["day"])

    assert (row["gross"], row["refunds"], row["net"]) == (6000, -1500, 4500)
    assert (row["conversions"], row["refunds_count"]) == (2, 1)
    assert revenue_totals(tenant=tenant, start=DAY_1.date(), end=DAY_1.date()) == {"USD": 4500}


def test_days_are_cut_in_the_tenants_time_zone(tenant):
    tenant.time_zone = ZoneInfo("America/Chicago")  # UTC-6 in January
    tenant.save()
    shop = _source(tenant)
    _record(shop, txn="evening", amount=100, occurred_at=datetime(2025, 1, 15, 3, 0, tzinfo=UTC))  # 21:00 on the 14th
    _record(shop, txn="last-minute", amount=20, occurred_at=datetime(2025, 1, 15, 5, 59, tzinfo=UTC))  # 23:59 the 14th
    _record(shop, txn="midnight", amount=3, occurred_at=datetime(2025, 1, 15, 6, 0, tzinfo=UTC))  # 00:00 on the 15th

    rows = revenue_ledger(tenant=tenant, start=date(2025, 1, 14), end=date(2025, 1, 15), group_by=["day"])

    assert _nets(rows, "day") == {("USD", date(2025, 1, 14)): 120, ("USD", date(2025, 1, 15)): 3}
    assert revenue_totals(tenant=tenant, start=date(2025, 1, 14), end=date(2025, 1, 14)) == {"USD": 120}
    assert revenue_totals(tenant=tenant, start=date(2025, 1, 15), end=date(2025, 1, 15)) == {"USD": 3}


def test_unattributed_conversions_appear_as_unattributed(tenant):
    shop = _source(tenant)
    interaction = InteractionFactory(tenant=tenant)
    _record(shop, txn="from-the-bot", amount=800, interaction=interaction, occurred_at=DAY_1)
    _record(shop, txn="from-nowhere", amount=50, occurred_at=DAY_1)

    rows = revenue_ledger(tenant=tenant, start=DAY_1.date(), end=DAY_1.date(), group_by=["bot", "group"])

    assert [(row["bot_id"], row["bot_name"], row["group_id"], row["group_name"], row["net"]) for row in rows] == [
        (interaction.bot_id, interaction.bot.name, interaction.group_id, interaction.group.name, 800),
        (None, "unattributed", None, "unattributed", 50),
    ]


def test_another_tenants_money_is_never_counted(tenant, other_tenant):
    ours = _source(tenant)
    _record(ours, txn="ours", amount=1000, occurred_at=DAY_1)
    theirs = _source(other_tenant)
    _record(theirs, txn="theirs", amount=99_999, occurred_at=DAY_1)
    _record(theirs, txn="ours", amount=5, occurred_at=DAY_1)  # the same provider txn id, in their books
    span = {"tenant": tenant, "start": DAY_1.date(), "end": DAY_1.date()}

    assert _nets(revenue_ledger(**span, group_by=["day", "source", "bot", "group"]), "source_id") == {
        ("USD", ours.pk): 1000
    }
    assert revenue_totals(**span) == {"USD": 1000}
    assert [row["source_id"] for row in reconciliation(tenant=tenant, **_around_now(tenant))["rows"]] == [ours.pk]


def test_ledger_and_reconciliation_answer_in_constant_queries(tenant, django_assert_num_queries):
    shops = [_source(tenant, "Shop"), _source(tenant, "Sponsor")]
    interactions = [InteractionFactory(tenant=tenant) for _ in range(3)]
    _record(shops[0], txn="only", occurred_at=DAY_1)
    start, end = DAY_1.date(), DAY_1.date() + timedelta(days=6)
    group_by = ["day", "source", "bot", "group"]

    with django_assert_num_queries(1):  # the ledger: one grouped SELECT
        assert len(revenue_ledger(tenant=tenant, start=start, end=end, group_by=group_by)) == 1
    with django_assert_num_queries(4):  # receipts, conversions, receipt mismatches, conversion mismatches
        reconciliation(tenant=tenant, start=start, end=end)

    for n in range(60):
        _record(
            shops[n % 2], txn=f"t{n}", amount=100 + n, currency=["USD", "EUR", "JPY"][n % 3],
            event="refund" if n % 7 == 0 else "purchase", interaction=interactions[n % 3] if n % 4 else None,
            occurred_at=DAY_1 + timedelta(days=n % 7),
        )  # fmt: skip
    Conversion.objects.filter(external_id__in=["t1", "t2"]).update(amount=1)

    with django_assert_num_queries(1):
        assert len(revenue_ledger(tenant=tenant, start=start, end=end, group_by=group_by)) > 20
    with django_assert_num_queries(4):
        assert reconciliation(tenant=tenant, start=start, end=end)["mismatches"]


# --- Reconciliation ----------------------------------------------------------------------------------------------


def test_reconciliation_is_ok_after_normal_postbacks(tenant):
    shop, sponsor = _source(tenant, "Shop"), _source(tenant, "Sponsor")
    _record(shop, txn="1", amount=1999)
    _record(shop, txn="2", amount=500, event="refund")
    _record(shop, txn="3", amount=1500, currency="JPY")
    _record(sponsor, txn="1", amount=10_000)

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    assert report["ok"] is True
    assert report["mismatches"] == []
    assert all(row["ok"] for row in report["rows"])
    assert {(row["source_name"], row["currency"]): row["receipts_accepted"] for row in report["rows"]} == {
        ("Shop", "USD"): {"amount": 1499, "count": 2},
        ("Shop", "JPY"): {"amount": 1500, "count": 1},
        ("Sponsor", "USD"): {"amount": 10_000, "count": 1},
    }
    assert report["totals"] == {
        "JPY": {"receipts_accepted": 1500, "conversions": 1500, "difference": 0},
        "USD": {"receipts_accepted": 11_499, "conversions": 11_499, "difference": 0},
    }


def test_duplicates_are_counted_as_ignored(tenant):
    shop = _source(tenant)
    _record(shop, txn="once", amount=1000)
    _record(shop, txn="once", amount=1000)
    _record(shop, txn="once", amount=9999)  # a resend with another amount changes nothing in the ledger

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    [row] = report["rows"]
    assert row["duplicates_ignored"] == 2
    assert row["receipts_accepted"] == {"amount": 1000, "count": 1}
    assert row["conversions"] == {"amount": 1000, "count": 1}
    assert report["ok"] is True


def test_a_tampered_conversion_shows_up_as_a_mismatch(tenant):
    shop = _source(tenant)
    _record(shop, txn="honest", amount=1000)
    tampered = _record(shop, txn="tampered", amount=2500)
    Conversion.objects.filter(pk=tampered.pk).update(amount=250)

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    [row] = report["rows"]
    assert row["difference"] == {"amount": 2250, "count": 0}
    assert row["ok"] is False
    assert report["ok"] is False
    [mismatch] = report["mismatches"]
    assert (mismatch["external_id"], mismatch["reason"]) == ("tampered", "amount_differs")
    assert (mismatch["receipt_amount"], mismatch["conversion_amount"]) == (2500, 250)


def test_offsetting_tampering_is_not_ok_though_the_sums_agree(tenant):
    shop = _source(tenant)
    Conversion.objects.filter(pk=_record(shop, txn="raised", amount=1000).pk).update(amount=1100)
    Conversion.objects.filter(pk=_record(shop, txn="lowered", amount=1000).pk).update(amount=900)

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    assert report["rows"][0]["difference"] == {"amount": 0, "count": 0}
    assert {mismatch["external_id"] for mismatch in report["mismatches"]} == {"raised", "lowered"}
    assert report["ok"] is False


def test_deleted_and_unreported_conversions_show_up_as_mismatches(tenant):
    shop = _source(tenant)
    _record(shop, txn="deleted", amount=700).delete()
    Conversion.objects.create(
        tenant=tenant, source=shop, outcome="purchase", amount=300, currency="USD", external_id="forged"
    )

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    assert {(m["external_id"], m["reason"]) for m in report["mismatches"]} == {
        ("deleted", "conversion_missing"), ("forged", "receipt_missing"),
    }  # fmt: skip
    assert report["ok"] is False


def test_a_backdated_conversion_is_named_when_the_period_splits_it_from_its_receipt(tenant):
    shop = _source(tenant)
    today = timezone.localdate(timezone=tenant.time_zone)
    _record(shop, txn="late-report", amount=400, occurred_at=timezone.now() - timedelta(days=10))

    arrival_day = reconciliation(tenant=tenant, start=today - timedelta(days=1), end=today + timedelta(days=1))
    occurrence_day = reconciliation(tenant=tenant, start=today - timedelta(days=11), end=today - timedelta(days=9))
    whole_span = reconciliation(tenant=tenant, start=today - timedelta(days=11), end=today + timedelta(days=1))

    assert [(m["external_id"], m["reason"]) for m in arrival_day["mismatches"]] == [
        ("late-report", "conversion_outside_range")
    ]
    assert [(m["external_id"], m["reason"]) for m in occurrence_day["mismatches"]] == [
        ("late-report", "receipt_outside_range")
    ]
    assert whole_span["ok"] is True


def test_mismatches_are_capped_at_100(tenant):
    shop = _source(tenant)
    Conversion.objects.bulk_create(
        Conversion(tenant=tenant, source=shop, outcome="purchase", amount=1, currency="USD", external_id=f"x{n}")
        for n in range(105)
    )

    report = reconciliation(tenant=tenant, **_around_now(tenant))

    assert len(report["mismatches"]) == 100
    assert report["mismatches_truncated"] is True
    assert report["rows"][0]["conversions"] == {"amount": 105, "count": 105}


def test_selectors_refuse_a_reversed_period_or_an_unknown_grouping(tenant):
    with pytest.raises(ValueError, match="before it starts"):
        revenue_totals(tenant=tenant, start=date(2025, 2, 1), end=date(2025, 1, 31))
    with pytest.raises(ValueError, match="before it starts"):
        reconciliation(tenant=tenant, start=date(2025, 2, 1), end=date(2025, 1, 31))
    with pytest.raises(ValueError, match="unknown grouping week"):
        revenue_ledger(tenant=tenant, start=date(2025, 1, 1), end=date(2025, 1, 31), group_by=["day", "week"])


# --- Arrival order cannot change the money -----------------------------------------------------------------------

CURRENCIES = ["USD", "EUR", "JPY", "BHD"]
ZONES = ["UTC", "America/Chicago", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago"]
_amount = st.integers(0, 100) | st.integers(0, 10**9)  # small amounts (0, single cents) as often as large ones
_event = st.fixed_dictionaries({
    "refund": st.booleans(), "amount": _amount, "currency": st.sampled_from(CURRENCIES),
    "source": st.integers(0, 1),
})  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_gives_the_same_money(db, data):
    events = data.draw(st.lists(_event, min_size=1, max_size=10), label="events")
    # Repeats of any event, possibly with another amount (a provider's resend): only the first arrival counts.
    repeats = data.draw(st.lists(st.tuples(st.integers(0, len(events) - 1), _amount), max_size=8), label="repeats")
    arrivals = data.draw(
        st.permutations([(n, event["amount"]) for n, event in enumerate(events)] + repeats), label="order"
    )
    zone = data.draw(st.sampled_from(ZONES), label="zone")

    with transaction.atomic():  # each example's rows are rolled back at its end
        tenant = TenantFactory(time_zone=zone)
        sources = [_source(tenant, "Shop"), _source(tenant, "Sponsor")]
        accepted = {}
        for n, amount in arrivals:
            event = events[n]
            _record(
                sources[event["source"]], txn=f"txn-{n}", amount=amount, currency=event["currency"],
                event="refund" if event["refund"] else "purchase",
            )  # fmt: skip
            accepted.setdefault(n, -amount if event["refund"] else amount)
        net, gross, refunds = Counter(), Counter(), Counter()
        counts = defaultdict(Counter)
        for n, amount in accepted.items():
            currency = events[n]["currency"]
            net[currency] += amount
            (refunds if events[n]["refund"] else gross)[currency] += amount
            counts[currency]["refunds" if events[n]["refund"] else "conversions"] += 1
        start, end = _around_now(tenant).values()

        rows = revenue_ledger(tenant=tenant, start=start, end=end, group_by=["source", "day", "bot"])
        report = reconciliation(tenant=tenant, start=start, end=end)

        reported = {event["currency"] for event in events}
        assert revenue_totals(tenant=tenant, start=start, end=end) == {currency: net[currency] for currency in reported}
        for currency in CURRENCIES:
            mine = [row for row in rows if row["currency"] == currency]
            assert sum(row["net"] for row in mine) == net[currency]
            assert sum(row["gross"] for row in mine) == gross[currency]
            assert sum(row["refunds"] for row in mine) == refunds[currency]
            assert sum(row["conversions"] for row in mine) == counts[currency]["conversions"]
            assert sum(row["refunds_count"] for row in mine) == counts[currency]["refunds"]
        assert all(row["refunds"] <= 0 <= row["gross"] for row in rows)
        assert report["ok"] is True, report["mismatches"]
        assert sum(row["duplicates_ignored"] for row in report["rows"]) == len(repeats)
        assert sum(row["receipts_accepted"]["count"] for row in report["rows"]) == len(events)
        transaction.set_rollback(True)


# --- Amounts for people ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1234, "USD", "12.34 USD"),
        (1234, "JPY", "1234 JPY"),
        (1234, "BHD", "1.234 BHD"),
        (5, "EUR", "0.05 EUR"),
        (0, "USD", "0.00 USD"),
        (-1500, "USD", "-15.00 USD"),
        (-5, "GBP", "-0.05 GBP"),
        (12345, "CLF", "1.2345 CLF"),
    ],
)
def test_format_minor_units_respects_the_currencys_exponent(amount, currency, expected):
    assert format_minor_units(amount, currency) == expected


def test_format_minor_units_refuses_an_unknown_currency():
    with pytest.raises(ValueError, match="XYZ"):
        format_minor_units(100, "XYZ")


# --- The API -----------------------------------------------------------------------------------------------------

ROW_FIELDS = {"currency", "day", "source_id", "source_name", "bot_id", "bot_name", "group_id", "group_name", "gross",
              "refunds", "net", "conversions", "refunds_count"}  # fmt: skip


@with_ledger_urls
def test_revenue_ledger_api_answers_rows_and_totals(tenant, api):
    shop = _source(tenant, "Shop")
    interaction = InteractionFactory(tenant=tenant)
    _record(shop, txn="1", amount=1999, interaction=interaction, occurred_at=DAY_1)
    _record(shop, txn="2", amount=999, event="refund", occurred_at=DAY_2)
    _record(shop, txn="3", amount=300, currency="JPY", occurred_at=DAY_2)

    response = api.get(LEDGER_URL, {"start": "2025-01-14", "end": "2025-01-15", "group_by": "day,source,bot"})

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["group_by"]) == ("2025-01-14", "2025-01-15", ["day", "source", "bot"])
    assert body["totals"] == {"JPY": 300, "USD": 1000}
    assert all(set(row) == ROW_FIELDS for row in body["rows"])
    assert [(r["currency"], r["day"], r["source_id"], r["bot_id"], r["bot_name"], r["net"]) for r in body["rows"]] == [
        ("JPY", "2025-01-15", str(shop.pk), None, "unattributed", 300),
        ("USD", "2025-01-14", str(shop.pk), str(interaction.bot_id), interaction.bot.name, 1999),
        ("USD", "2025-01-15", str(shop.pk), None, "unattributed", -999),
    ]


@with_ledger_urls
def test_revenue_ledger_api_without_group_by_is_one_row_per_currency(tenant, api):
    shop = _source(tenant)
    _record(shop, txn="1", amount=100, occurred_at=DAY_1)
    _record(shop, txn="2", amount=200, occurred_at=DAY_2)

    body = api.get(LEDGER_URL, {"start": "2025-01-14", "end": "2025-01-15"}).json()

    assert [(row["currency"], row["day"], row["net"], row["conversions"]) for row in body["rows"]] == [
        ("USD", None, 300, 2)
    ]


@with_ledger_urls
def test_reconciliation_api_answers_rows_totals_and_mismatches(tenant, api):
    shop = _source(tenant, "Shop")
    _record(shop, txn="fine", amount=1000)
    _record(shop, txn="fine", amount=1000)
    Conversion.objects.filter(pk=_record(shop, txn="edited", amount=500).pk).update(amount=400)
    start, end = _around_now(tenant).values()

    response = api.get(RECONCILIATION_URL, {"start": start.isoformat(), "end": end.isoformat()})

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["ok"], body["mismatches_truncated"]) == (
        start.isoformat(), end.isoformat(), False, False
    )  # fmt: skip
    assert body["rows"] == [{
        "source_id": str(shop.pk), "source_name": "Shop", "currency": "USD",
        "receipts_accepted": {"amount": 1500, "count": 2}, "duplicates_ignored": 1,
        "conversions": {"amount": 1400, "count": 2}, "difference": {"amount": 100, "count": 0}, "ok": False,
    }]  # fmt: skip
    assert body["totals"] == {"USD": {"receipts_accepted": 1500, "conversions": 1400, "difference": 100}}
    assert body["mismatches"] == [{
        "external_id": "edited", "source_id": str(shop.pk), "reason": "amount_differs", "currency": "USD",
        "receipt_amount": 500, "conversion_amount": 400,
    }]  # fmt: skip


BAD_PERIODS = [
    pytest.param({"end": "2025-01-31"}, "start", id="missing-start"),
    pytest.param({"start": "2025-01-01"}, "end", id="missing-end"),
    pytest.param({"start": "01/02/2025", "end": "2025-01-31"}, "start", id="not-iso"),
    pytest.param({"start": "2025-02-30", "end": "2025-03-31"}, "start", id="no-such-day"),
    pytest.param({"start": "2025-01-31", "end": "2025-01-01"}, "end", id="reversed"),
    pytest.param({"start": "2024-01-01", "end": "2025-01-01"}, "end", id="367-days"),
]


@with_ledger_urls
@pytest.mark.parametrize("url", [LEDGER_URL, RECONCILIATION_URL])
@pytest.mark.parametrize(("query", "field"), BAD_PERIODS)
def test_bad_periods_are_400_naming_the_field(api, url, query, field):
    response = api.get(url, query)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert body["fields"][field][0]


@with_ledger_urls
@pytest.mark.parametrize("group_by", ["week", "day,campaign", "source;bot"])
def test_unknown_groupings_are_400(api, group_by):
    response = api.get(LEDGER_URL, {"start": "2025-01-01", "end": "2025-01-31", "group_by": group_by})

    assert response.status_code == 400
    assert "Unknown grouping" in response.json()["fields"]["group_by"][0]


@with_ledger_urls
@pytest.mark.parametrize("url", [LEDGER_URL, RECONCILIATION_URL])
def test_a_whole_leap_year_is_allowed(api, url):
    assert api.get(url, {"start": "2024-01-01", "end": "2024-12-31"}).status_code == 200


@with_ledger_urls
@pytest.mark.parametrize("url", [LEDGER_URL, RECONCILIATION_URL])
def test_the_ledger_needs_an_api_key(db, client, url):
    assert client.get(url, {"start": "2025-01-01", "end": "2025-01-31"}).status_code == 401


@with_ledger_urls
def test_another_tenants_key_sees_none_of_this_tenants_money(tenant, other_tenant, api, api_client_for):
    shop = _source(tenant, "Alice's shop")
    _record(shop, txn="alice-1", amount=4242)
    Conversion.objects.filter(external_id="alice-1").update(amount=1)  # a mismatch, so it has something to show
    start, end = _around_now(tenant).values()
    period = {"start": start.isoformat(), "end": end.isoformat()}
    theirs = api_client_for(other_tenant)

    ledger = theirs.get(LEDGER_URL, {**period, "group_by": "day,source,bot,group"})
    report = theirs.get(RECONCILIATION_URL, period)

    assert (ledger.status_code, report.status_code) == (200, 200)
    assert (ledger.json()["rows"], ledger.json()["totals"]) == ([], {})
    assert (report.json()["rows"], report.json()["mismatches"], report.json()["totals"]) == ([], [], {})
    for response in (ledger, report):
        assert str(shop.pk) not in response.content.decode()
        assert "alice" not in response.content.decode().lower()
    # The owner's key does see it, so the emptiness above is the tenant boundary.
    assert api.get(LEDGER_URL, period).json()["totals"] == {"USD": 1}
    assert api.get(RECONCILIATION_URL, period).json()["mismatches"][0]["external_id"] == "alice-1"


def test_the_schema_documents_both_endpoints():
    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)

    ledger = schema["paths"][LEDGER_URL]["get"]
    assert {parameter["name"] for parameter in ledger["parameters"]} == {"start", "end", "group_by"}
    assert ledger["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RevenueLedger")
    reconciliation_op = schema["paths"][RECONCILIATION_URL]["get"]
    assert {parameter["name"] for parameter in reconciliation_op["parameters"]} == {"start", "end"}
    assert {"RevenueLedgerRow", "ReconciliationRow", "ReconciliationMismatch"} <= set(schema["components"]["schemas"])
