"""The Money pages: sources by kind with their postback URLs, revenue totals over a range, conversions with their
attribution in words (keyset pages), the revenue ledger and reconciliation; creating, editing and deleting sources."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.html import escape

from bots.tests.factories import InteractionFactory, RuleFactory
from monetization.models import Conversion, MonetizationSource
from monetization.services import conversion_record, conversion_report_clean, source_create
from monetization.tests.factories import ClickFactory, ConversionFactory, MonetizationSourceFactory
from tenants.models import Role
from tenants.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

LATE_ON_JAN_13 = datetime(2025, 1, 14, 4, 30, tzinfo=UTC)  # 23:30 on Jan 13 in New York, the factories' zone


def _url(tenant, page="", **query):
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    return f"/t/{tenant.slug}/money/{page}" + (f"?{suffix}" if suffix else "")


def _record(source, *, txn, amount=1000, currency="USD", event="purchase", click_id="", occurred_at=None):
    report = conversion_report_clean(event=event, amount=amount, currency=currency, txn_id=txn, click_id=click_id,
                                     occurred_at=occurred_at)  # fmt: skip
    return conversion_record(source=source, report=report)[0]


@pytest.fixture
def analyst_client(tenant, client):
    client.force_login(MembershipFactory(tenant=tenant, user=UserFactory(), role=Role.ANALYST).user)
    return client


# --- Sources and totals ----------------------------------------------------------------------------------------------


def test_money_page_lists_sources_by_kind_with_postback_urls_to_copy(owner_client, tenant, other_tenant):
    affiliate = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate", details={"network": "Impact"})
    members = source_create(tenant=tenant, name="Members club", kind="subscription")
    MonetizationSourceFactory(tenant=other_tenant, name="Bakery affiliates")

    response = owner_client.get(_url(tenant))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["nav_section"] == "money"
    sections = {group["kind"]: [row["source"] for row in group["sources"]] for group in response.context["kinds"]}
    assert sections == {"affiliate": [affiliate], "sponsorship": [], "subscription": [members], "donation": []}
    assert f'value="{affiliate.postback_url}"' in page
    assert f'data-copy="postback-{affiliate.pk}"' in page
    assert f'value="{members.webhook_url}"' in page
    assert "Impact" in page
    assert "Bakery affiliates" not in page


def test_money_page_without_sources_says_what_to_do_next(owner_client, tenant):
    page = owner_client.get(_url(tenant)).content.decode()

    assert "No monetization sources yet" in page
    assert f'href="/t/{tenant.slug}/money/sources/new/"' in page


def test_revenue_totals_default_to_the_last_30_days_per_currency_refunds_subtracted(owner_client, tenant):
    source = MonetizationSourceFactory(tenant=tenant)
    now = timezone.now()
    ConversionFactory(tenant=tenant, source=source, amount=1999, currency="USD", occurred_at=now)
    ConversionFactory(tenant=tenant, source=source, amount=-500, currency="USD", outcome="refund", occurred_at=now)
    ConversionFactory(tenant=tenant, source=source, amount=500, currency="EUR", occurred_at=now)
    ConversionFactory(tenant=tenant, source=source, amount=9999, currency="USD", occurred_at=now - timedelta(days=40))

    response = owner_client.get(_url(tenant))

    totals = {total["currency"]: total["net_text"] for total in response.context["totals"]}
    assert totals == {"EUR": "5.00 EUR", "USD": "14.99 USD"}
    today = timezone.localdate(timezone=tenant.time_zone)
    assert (response.context["since"], response.context["until"]) == (today - timedelta(days=29), today)
    assert "14.99 USD" in response.content.decode()


def test_revenue_totals_cut_days_in_the_tenants_time_zone(owner_client, tenant):
    ConversionFactory(tenant=tenant, amount=1200, occurred_at=LATE_ON_JAN_13)

    on_the_13th = owner_client.get(_url(tenant, since="2025-01-13", until="2025-01-13"))
    on_the_14th = owner_client.get(_url(tenant, since="2025-01-14", until="2025-01-14"))

    assert [total["net_text"] for total in on_the_13th.context["totals"]] == ["12.00 USD"]
    assert on_the_14th.context["totals"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2025-02-30"}, "A date as YYYY-MM-DD."),
        ({"since": "yesterday"}, "A date as YYYY-MM-DD."),
        ({"since": "9999-12-25", "until": "9999-12-31"}, "A date from 2000-01-01 to 2999-12-31"),
        ({"since": "2025-03-02", "until": "2025-03-01"}, "On or after the start date."),
        ({"since": "2023-01-01", "until": "2025-01-01"}, "A range is at most 366 days."),
    ],
)
def test_money_page_with_bad_dates_is_400_with_a_message(owner_client, tenant, query, message):
    response = owner_client.get(_url(tenant, **query))

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "totals" not in response.context


@pytest.mark.parametrize("rows", [3, 30])
def test_money_page_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    for number in range(rows):
        source = source_create(tenant=tenant, name=f"Source {number}", kind=MonetizationSource.Kind.values[number % 4])
        ConversionFactory(tenant=tenant, source=source)
    # session, user, membership + tenant, the switcher's memberships, sources, revenue per currency
    with django_assert_max_num_queries(6):
        response = owner_client.get(_url(tenant))
    assert sum(len(group["sources"]) for group in response.context["kinds"]) == rows


def test_analysts_see_sources_without_write_controls(analyst_client, tenant):
    source = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate")

    page = analyst_client.get(_url(tenant)).content.decode()

    assert "Kayak Affiliates" in page
    assert source.postback_url in page
    assert f'href="/t/{tenant.slug}/money/sources/new/"' not in page


# --- Create, edit, delete a source -----------------------------------------------------------------------------------


def test_owner_creates_an_affiliate_source(owner_client, tenant):
    response = owner_client.post(
        _url(tenant, "sources/new/"),
        {"name": "Kayak Affiliates", "kind": "affiliate", "attribution_window_days": "7",
         "details": '{"network": "Impact"}', "is_active": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    assert response["Location"] == _url(tenant)
    source = MonetizationSource.objects.get(tenant=tenant)
    assert (source.name, source.kind, source.attribution_window_days, source.details, source.is_active) == (
        "Kayak Affiliates", "affiliate", 7, {"network": "Impact"}, True,
    )  # fmt: skip
    assert source.webhook_secret is None


def test_a_new_subscription_source_shows_its_webhook_secret_once(owner_client, tenant):
    response = owner_client.post(
        _url(tenant, "sources/new/"),
        {"name": "Members club", "kind": "subscription", "attribution_window_days": "30", "is_active": "on"},
    )

    source = MonetizationSource.objects.get(tenant=tenant)
    assert response.status_code == 200
    assert source.webhook_secret
    assert f'value="{source.webhook_secret}"' in response.content.decode()
    assert source.webhook_secret not in owner_client.get(_url(tenant)).content.decode()
    assert source.webhook_secret not in owner_client.get(_url(tenant, f"sources/{source.pk}/")).content.decode()


def test_new_source_form_takes_its_kind_from_the_query(owner_client, tenant):
    response = owner_client.get(_url(tenant, "sources/new/", kind="sponsorship"))

    assert response.status_code == 200
    assert response.context["form"]["kind"].value() == "sponsorship"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"details": "[1, 2]"}, "details", 'A JSON object, e.g. {"network": "Impact"}.'),
        ({"details": "{not json"}, "details", "Enter a valid JSON."),
        ({"name": ""}, "name", "This field is required."),
        ({"kind": "lottery"}, "kind", "Select a valid choice. lottery is not one of the available choices."),
        (
            {"attribution_window_days": "0"},
            "attribution_window_days",
            "Ensure this value is greater than or equal to 1.",
        ),
    ],
)
def test_source_create_with_bad_input_is_400_inline_and_creates_nothing(owner_client, tenant, fields, field, message):
    data = {"name": "Kayaks", "kind": "affiliate", "attribution_window_days": "30", **fields}

    response = owner_client.post(_url(tenant, "sources/new/"), data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert not MonetizationSource.objects.exists()


def test_owner_edits_a_source_but_not_its_kind(owner_client, tenant):
    source = source_create(tenant=tenant, name="Old", kind="affiliate")

    form = owner_client.get(_url(tenant, f"sources/{source.pk}/"))
    response = owner_client.post(
        _url(tenant, f"sources/{source.pk}/"),
        {"name": "New", "kind": "donation", "attribution_window_days": "14", "details": '{"rate": "8%"}'},
    )

    assert form.status_code == 200
    assert source.postback_url in form.content.decode()
    assert response.status_code == 302
    source.refresh_from_db()
    assert (source.name, source.kind, source.attribution_window_days, source.details, source.is_active) == (
        "New", "affiliate", 14, {"rate": "8%"}, False,
    )  # fmt: skip


def test_source_edit_with_bad_input_is_400_and_changes_nothing(owner_client, tenant):
    source = source_create(tenant=tenant, name="Kept", kind="affiliate")

    response = owner_client.post(
        _url(tenant, f"sources/{source.pk}/"), {"name": "Changed", "attribution_window_days": "-3", "is_active": "on"}
    )

    assert response.status_code == 400
    assert "attribution_window_days" in response.context["form"].errors
    source.refresh_from_db()
    assert (source.name, source.attribution_window_days) == ("Kept", 30)


def test_owner_deletes_a_source_without_conversions(owner_client, tenant):
    source = source_create(tenant=tenant, name="Unused", kind="affiliate")

    response = owner_client.post(_url(tenant, f"sources/{source.pk}/delete/"))

    assert response.status_code == 302
    assert not MonetizationSource.objects.filter(pk=source.pk).exists()


def test_a_source_with_conversions_is_kept_and_the_page_says_why(owner_client, tenant):
    source = MonetizationSourceFactory(tenant=tenant)
    ConversionFactory(tenant=tenant, source=source)

    response = owner_client.post(_url(tenant, f"sources/{source.pk}/delete/"))

    assert response.status_code == 400
    assert "deactivate it instead" in response.content.decode()
    assert MonetizationSource.objects.filter(pk=source.pk).exists()


def test_source_delete_is_post_only(owner_client, tenant):
    source = MonetizationSourceFactory(tenant=tenant)

    assert owner_client.get(_url(tenant, f"sources/{source.pk}/delete/")).status_code == 405
    assert MonetizationSource.objects.filter(pk=source.pk).exists()


def test_analysts_cannot_create_edit_or_delete_sources(analyst_client, tenant):
    source = source_create(tenant=tenant, name="Kept", kind="affiliate")
    data = {"name": "Changed", "kind": "affiliate", "attribution_window_days": "9"}

    read = analyst_client.get(_url(tenant, f"sources/{source.pk}/"))
    responses = [
        analyst_client.post(_url(tenant, "sources/new/"), data),
        analyst_client.post(_url(tenant, f"sources/{source.pk}/"), data),
        analyst_client.post(_url(tenant, f"sources/{source.pk}/delete/")),
    ]

    assert read.status_code == 200
    assert [response.status_code for response in responses] == [403, 403, 403]
    source.refresh_from_db()
    assert (source.name, source.attribution_window_days) == ("Kept", 30)
    assert MonetizationSource.objects.count() == 1


# --- Conversions -----------------------------------------------------------------------------------------------------


def test_conversions_show_amount_source_interaction_and_the_attribution_in_words(owner_client, tenant):
    source = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate", attribution_window_days=7)
    interaction = InteractionFactory(tenant=tenant, rule=RuleFactory(tenant=tenant, name="kayak deals"))
    click = ClickFactory(tenant=tenant, interaction=interaction, clicked_at=timezone.now() - timedelta(hours=2))
    attributed = _record(source, txn="t-1", amount=4999, click_id=str(click.pk))
    _record(source, txn="t-2", amount=1000)
    old_click = ClickFactory(tenant=tenant, clicked_at=timezone.now() - timedelta(days=10))
    _record(source, txn="t-3", amount=1000, click_id=str(old_click.pk))

    response = owner_client.get(_url(tenant, "conversions/"))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["nav_section"] == "money"
    explanations = {row["conversion"].external_id: row["explanation"] for row in response.context["rows"]}
    assert explanations == {
        "t-1": "Last click 2 h before, within the 7-day window of Kayak Affiliates, "
        "from a reply of rule “kayak deals”.",
        "t-2": "Not attributed: no click id and no interaction given.",
        "t-3": "Not attributed: the click was 10 days before, outside the window (7-day window of Kayak Affiliates).",
    }
    assert "49.99 USD" in page
    assert f'href="/t/{tenant.slug}/interactions/{attributed.interaction_id}/"' in page
    assert escape(explanations["t-1"]) in page


def test_conversions_filter_by_the_shared_drill_down_parameters(owner_client, tenant):
    kayaks, bakes = MonetizationSourceFactory(tenant=tenant), MonetizationSourceFactory(tenant=tenant)
    ConversionFactory(tenant=tenant, source=kayaks, external_id="match", occurred_at=LATE_ON_JAN_13)
    ConversionFactory(tenant=tenant, source=bakes, external_id="other-source", occurred_at=LATE_ON_JAN_13)
    ConversionFactory(tenant=tenant, source=kayaks, external_id="other-kind", outcome="signup", amount=0,
                      occurred_at=LATE_ON_JAN_13)  # fmt: skip
    ConversionFactory(
        tenant=tenant, source=kayaks, external_id="next-day", occurred_at=LATE_ON_JAN_13 + timedelta(hours=1)
    )

    response = owner_client.get(
        _url(tenant, "conversions/", since="2025-01-13", until="2025-01-13", source=kayaks.pk, kind="purchase")
    )

    assert response.status_code == 200
    assert [row["conversion"].external_id for row in response.context["rows"]] == ["match"]


def test_conversions_without_any_say_what_to_do_next(owner_client, tenant):
    page = owner_client.get(_url(tenant, "conversions/")).content.decode()

    assert "No conversions yet" in page
    assert f'href="/t/{tenant.slug}/money/"' in page


def test_conversions_are_paged_by_a_keyset_without_gaps_or_repeats(owner_client, tenant):
    source = MonetizationSourceFactory(tenant=tenant)
    same_moment = timezone.now()  # ties on time: the id decides the order
    for _ in range(55):
        ConversionFactory(tenant=tenant, source=source, occurred_at=same_moment)

    first = owner_client.get(_url(tenant, "conversions/", source=source.pk))
    second = owner_client.get(f"{_url(tenant, 'conversions/')}?{first.context['next_query']}")

    first_ids = [row["conversion"].pk for row in first.context["rows"]]
    second_ids = [row["conversion"].pk for row in second.context["rows"]]
    assert (len(first_ids), len(second_ids)) == (50, 5)
    assert set(first_ids) | set(second_ids) == set(Conversion.objects.values_list("pk", flat=True))
    assert f"source={source.pk}" in first.context["next_query"]
    assert second.context["next_query"] == ""
    assert "Older" in first.content.decode()
    assert "Newest" in second.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "2025-13-01"}, "A date as YYYY-MM-DD."),
        ({"until": "9999-12-31"}, "A date from 2000-01-01 to 2999-12-31"),
        ({"since": "2025-01-05", "until": "2025-01-04"}, "On or after the start date."),
        ({"source": "not-a-source"}, "No such source."),
        ({"kind": "lottery"}, "One of signup, checkout, purchase, subscription, donation, refund."),
        ({"after": "garbage!"}, "Not a page of this list; start again from the first page."),
    ],
)
def test_conversions_with_bad_filters_are_400_with_a_message(owner_client, tenant, query, message):
    ConversionFactory(tenant=tenant)

    response = owner_client.get(_url(tenant, "conversions/", **query))

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "rows" not in response.context


def test_conversions_of_another_tenants_source_cannot_be_listed(owner_client, tenant, other_tenant):
    theirs = ConversionFactory(tenant=other_tenant)

    response = owner_client.get(_url(tenant, "conversions/", source=theirs.source_id))

    assert response.status_code == 400
    assert theirs.external_id not in response.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_conversions_answer_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    for _ in range(rows):
        ConversionFactory(tenant=tenant, source=MonetizationSourceFactory(tenant=tenant))
    # session, user, membership + tenant, the switcher's memberships, sources (for the filter), conversions + source
    with django_assert_max_num_queries(6):
        response = owner_client.get(_url(tenant, "conversions/"))
    assert len(response.context["rows"]) == rows


# --- The ledger ------------------------------------------------------------------------------------------------------


def _ledger_fixture(tenant):
    kayaks = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate")
    club = source_create(tenant=tenant, name="Members club", kind="subscription")
    _record(kayaks, txn="k1", amount=2000, occurred_at=LATE_ON_JAN_13)
    _record(kayaks, txn="k2", amount=500, event="refund", occurred_at=LATE_ON_JAN_13)
    _record(club, txn="c1", amount=900, currency="EUR", event="subscription", occurred_at=LATE_ON_JAN_13)
    _record(club, txn="c2", amount=300, event="subscription", occurred_at=LATE_ON_JAN_13)
    return kayaks, club


def _ledger_rows(response):
    return [(row["label"], row["currency"], row["net"]) for row in response.context["rows"]]


def test_ledger_groups_revenue_by_source_per_currency_by_default(owner_client, tenant):
    kayaks, _club = _ledger_fixture(tenant)

    response = owner_client.get(_url(tenant, "ledger/", since="2025-01-13", until="2025-01-13"))

    assert response.status_code == 200
    assert _ledger_rows(response) == [
        ("Members club", "EUR", "9.00 EUR"),
        ("Kayak Affiliates", "USD", "15.00 USD"),
        ("Members club", "USD", "3.00 USD"),
    ]
    assert [total["net"] for total in response.context["totals"]] == ["9.00 EUR", "18.00 USD"]
    page = response.content.decode()
    assert f"source={kayaks.pk}" in page
    assert "-5.00 USD" in page


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("kind", [("Subscriptions", "EUR", "9.00 EUR"), ("Affiliate programs", "USD", "15.00 USD"),
                  ("Subscriptions", "USD", "3.00 USD")]),
        ("currency", [("All sources", "EUR", "9.00 EUR"), ("All sources", "USD", "18.00 USD")]),
        ("day", [("2025-01-13", "EUR", "9.00 EUR"), ("2025-01-13", "USD", "18.00 USD")]),
        ("bot", [("unattributed", "EUR", "9.00 EUR"), ("unattributed", "USD", "18.00 USD")]),
    ],
)  # fmt: skip
def test_ledger_groups_by_kind_currency_day_or_bot(owner_client, tenant, group_by, expected):
    _ledger_fixture(tenant)

    response = owner_client.get(_url(tenant, "ledger/", since="2025-01-13", until="2025-01-13", group_by=group_by))

    assert response.status_code == 200
    assert _ledger_rows(response) == expected


def test_ledger_rows_link_to_their_conversions_and_escape_names(owner_client, tenant):
    bold = source_create(tenant=tenant, name="<b>Bold</b> & Co", kind="affiliate")
    _record(bold, txn="b1", amount=2000, occurred_at=LATE_ON_JAN_13)
    _record(bold, txn="b2", amount=500, event="refund", occurred_at=LATE_ON_JAN_13)
    conversions = f"/t/{tenant.slug}/money/conversions/"

    by_source = owner_client.get(_url(tenant, "ledger/", since="2025-01-01", until="2025-01-31")).content.decode()
    by_day = owner_client.get(_url(tenant, "ledger/", since="2025-01-01", until="2025-01-31", group_by="day"))
    by_currency = owner_client.get(_url(tenant, "ledger/", since="2025-01-01", until="2025-01-31", group_by="currency"))

    assert (
        f'<td><a href="{conversions}?since=2025-01-01&amp;until=2025-01-31&amp;source={bold.pk}">'
        "&lt;b&gt;Bold&lt;/b&gt; &amp; Co</a></td><td>USD</td>"
    ) in by_source
    assert '<td class="num">1</td><td class="num">20.00 USD</td>' in by_source
    assert '<td class="num">-5.00 USD <span class="muted">(1)</span></td><td class="num">15.00 USD</td>' in by_source
    assert f'<td><a href="{conversions}?since=2025-01-13&amp;until=2025-01-13">2025-01-13</a></td>' in (
        by_day.content.decode()
    )
    assert [total["net"] for total in by_day.context["totals"]] == ["15.00 USD"]
    assert f'<td><a href="{conversions}?since=2025-01-01&amp;until=2025-01-31">USD</a></td><td class="num">1</td>' in (
        by_currency.content.decode()
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"group_by": "weather"}, "Select a valid choice. weather is not one of the available choices."),
        ({"until": "2025-01-32"}, "A date as YYYY-MM-DD."),
    ],
)
def test_ledger_with_bad_parameters_is_400_with_a_message(owner_client, tenant, query, message):
    response = owner_client.get(_url(tenant, "ledger/", **query))

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert "rows" not in response.context


@pytest.mark.parametrize("rows", [3, 30])
def test_ledger_answers_in_a_bounded_number_of_queries(owner_client, tenant, rows, django_assert_max_num_queries):
    for number in range(rows):
        ConversionFactory(tenant=tenant, source=MonetizationSourceFactory(tenant=tenant, name=f"S{number:02}"))
    # session, user, membership + tenant, the switcher's memberships, the ledger (its rows add up to the totals)
    with django_assert_max_num_queries(5):
        response = owner_client.get(_url(tenant, "ledger/"))
    assert len(response.context["rows"]) == rows


# --- Reconciliation --------------------------------------------------------------------------------------------------


def test_reconciliation_balances_when_every_report_is_in_the_ledger(owner_client, tenant):
    source = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate")
    _record(source, txn="k1", amount=2000)
    _record(source, txn="k1", amount=2000)  # a repeat: counted, ignored by the ledger
    _record(source, txn="k2", amount=500, event="refund")

    response = owner_client.get(_url(tenant, "reconciliation/"))

    assert response.status_code == 200
    assert response.context["ok"] is True
    assert response.context["mismatches"] == []
    assert [row["duplicates_ignored"] for row in response.context["rows"]] == [1]
    assert "Balanced" in response.content.decode()


def test_reconciliation_names_every_transaction_that_differs(owner_client, tenant):
    source = source_create(tenant=tenant, name="Kayak Affiliates", kind="affiliate")
    _record(source, txn="fine", amount=1000)
    changed = _record(source, txn="changed", amount=1000)
    Conversion.objects.filter(pk=changed.pk).update(amount=700)
    gone = _record(source, txn="gone", amount=1000)
    Conversion.objects.filter(pk=gone.pk).delete()
    ConversionFactory(tenant=tenant, source=source, external_id="unreported")
    today = timezone.localdate(timezone=tenant.time_zone).isoformat()

    response = owner_client.get(_url(tenant, "reconciliation/", since=today, until=today))

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["ok"] is False
    reasons = {mismatch["external_id"]: mismatch["reason_text"] for mismatch in response.context["mismatches"]}
    assert reasons == {
        "changed": "Reported with another amount or currency than the ledger holds.",
        "gone": "Reported, but the conversion is no longer in the ledger.",
        "unreported": "In the ledger, but no report of it was received.",
    }
    assert "Differs" in page
    assert "7.00 USD" in page
    assert "Kayak Affiliates" in page


def test_reconciliation_with_bad_dates_is_400(owner_client, tenant):
    response = owner_client.get(_url(tenant, "reconciliation/", since="2025-02-01", until="2025-01-01"))

    assert response.status_code == 400
    assert "On or after the start date." in response.content.decode()
    assert "rows" not in response.context


@pytest.mark.parametrize("rows", [3, 30])
def test_reconciliation_answers_in_a_bounded_number_of_queries(
    owner_client, tenant, rows, django_assert_max_num_queries
):
    for number in range(rows):
        source = MonetizationSourceFactory(tenant=tenant, name=f"S{number:02}")
        _record(source, txn=f"t{number}")
        ConversionFactory(tenant=tenant, source=source)  # never reported: a mismatch
    # session, user, membership + tenant, switcher; receipts, conversions, and two for the mismatches
    with django_assert_max_num_queries(8):
        response = owner_client.get(_url(tenant, "reconciliation/"))
    assert len(response.context["rows"]) == rows
    assert len(response.context["mismatches"]) == rows


def test_money_sub_pages_carry_the_chosen_range(owner_client, tenant):
    response = owner_client.get(_url(tenant, since="2025-01-01", until="2025-01-31"))

    page = response.content.decode()
    for sub_page in ("conversions/", "ledger/", "reconciliation/"):
        assert f'href="/t/{tenant.slug}/money/{sub_page}?since=2025-01-01&amp;until=2025-01-31"' in page
    assert date(2025, 1, 1) == response.context["since"]
