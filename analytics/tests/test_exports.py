"""CSV exports: the same rows and figures as the API, streamed, filtered alike, and harmless in a spreadsheet."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models.query import QuerySet
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from analytics import exports
from analytics.api.export_views import ExportView, export_filename
from analytics.exports import csv_cell
from analytics.services import kpi_aggregate_tenant
from bots.models import Interaction
from bots.tests.factories import BotFactory, InteractionFactory
from groups.models import Message
from groups.tests.factories import GroupFactory, MemberFactory, MessageFactory
from monetization.models import Conversion
from monetization.tests.factories import ConversionFactory, MonetizationSourceFactory

# The export is routed here by this module until analytics/api/urls.py includes it (same path); the rest of the
# project's routes follow, for the JSON APIs the exports are compared with.
urlpatterns = [
    path("api/v1/exports/<str:kind>.csv", ExportView.as_view(), name="exports"),
    path("", include("config.urls")),
]
handler404 = "tenants.api.errors.not_found"

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

CHICAGO = ZoneInfo("America/Chicago")
DAY = date(2026, 11, 10)
INTERACTION_HEADER = [
    "id", "occurred_at", "bot_id", "bot_name", "group_id", "group_name", "member_nickname", "intent", "handled",
    "sentiment", "reply_status", "response_time_ms", "message_text",
]  # fmt: skip
CONVERSION_HEADER = [
    "id", "occurred_at", "source_id", "source_name", "outcome", "amount", "amount_display", "currency",
    "external_id", "click_id", "interaction_id", "attribution_method", "attribution_reason",
]  # fmt: skip


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=CHICAGO)


def _export(client, kind, params=None, **headers):
    return client.get(f"/api/v1/exports/{kind}.csv", params or {}, **headers)


def _table(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def _records(response) -> list[dict[str, str]]:
    header, *rows = _table(response)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def world(tenant):
    """A Chicago tenant: two bots in two named groups, members, and a source."""
    tenant.time_zone = CHICAGO
    tenant.save()
    bots = [
        BotFactory(tenant=tenant, name=name, group=GroupFactory(tenant=tenant, name=f"{name} group"))
        for name in ("Angler", "Tackle")
    ]
    members = [MemberFactory(tenant=tenant, group=bot.group, nickname=f"Zoë {bot.name}") for bot in bots]
    source = MonetizationSourceFactory(tenant=tenant, name="Lakeside Outfitters")
    return {"tenant": tenant, "bots": bots, "members": members, "source": source}


def _interaction(world, *, bot=0, at, text="hello", **fields):
    bot_obj, member = world["bots"][bot], world["members"][bot]
    member = fields.pop("member", member)
    message = MessageFactory(
        tenant=world["tenant"], group=bot_obj.group, bot=bot_obj, member=member, sent_at=at, text=text
    )
    return InteractionFactory(
        tenant=world["tenant"], bot=bot_obj, group=bot_obj.group, member=member, message=message, occurred_at=at,
        message_text=text, **fields,
    )  # fmt: skip


def _conversion(world, **fields):
    fields.setdefault("occurred_at", _at(DAY, 12))
    return ConversionFactory(tenant=world["tenant"], source=fields.pop("source", world["source"]), **fields)


# --- Interactions ------------------------------------------------------------------------------------------------


def test_interactions_export_has_the_header_and_one_row_per_interaction_newest_first(world, api):
    first = _interaction(world, at=_at(DAY, 10), intent="help", sentiment=0.5, response_time_ms=150)
    redacted = _interaction(
        world, bot=1, at=_at(DAY, 11), text=None, intent="", handled=False, reply_status="failed",
        response_time_ms=None, sentiment=-0.25,
    )  # fmt: skip

    header, *rows = _table(_export(api, "interactions"))

    assert header == INTERACTION_HEADER
    bot, group = world["bots"][0], world["bots"][0].group
    assert rows == [
        [str(redacted.pk), "2026-11-10T11:30:00-06:00", str(world["bots"][1].pk), "Tackle",
         str(world["bots"][1].group_id), "Tackle group", "Zoë Tackle", "", "false", "-0.25", "failed", "", ""],
        [str(first.pk), "2026-11-10T10:30:00-06:00", str(bot.pk), "Angler", str(group.pk), "Angler group",
         "Zoë Angler", "help", "true", "0.5", "sent", "150", "hello"],
    ]  # fmt: skip


FILTER_CASES = {
    "intent": lambda world: {"intent": "buy"},
    "since": lambda world: {"since": _at(DAY + timedelta(days=1), 0).isoformat()},
    "until": lambda world: {"until": _at(DAY + timedelta(days=1), 0).isoformat()},
    "handled": lambda world: {"handled": "false"},
    "reply_status": lambda world: {"reply_status": "failed"},
    "bot": lambda world: {"bot": str(world["bots"][1].pk)},
    "group": lambda world: {"group": str(world["bots"][1].group_id)},
}
EXPECTED = {"intent": {"b"}, "since": {"b", "c"}, "until": {"a"}, "handled": {"b"}, "reply_status": {"b"},
            "bot": {"c"}, "group": {"c"}}  # fmt: skip


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_interactions_export_applies_the_filters_of_the_interactions_api(world, api, case):
    made = {
        "a": _interaction(world, at=_at(DAY, 10), intent="help"),
        "b": _interaction(world, at=_at(DAY + timedelta(days=1), 10), intent="buy", handled=False,
                          reply_status="failed"),
        "c": _interaction(world, bot=1, at=_at(DAY + timedelta(days=2), 10), intent="help"),
    }  # fmt: skip
    params = FILTER_CASES[case](world)

    exported = {record["id"] for record in _records(_export(api, "interactions", params))}

    assert exported == {str(made[name].pk) for name in EXPECTED[case]}
    listed = {item["id"] for item in api.get("/api/v1/interactions/", params).json()["results"]}
    assert exported == listed


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "last tuesday"}, "since"), ({"reply_status": "lost"}, "reply_status"), ({"bot": "b0t"}, "bot"),
     ({"until": "2026-13-01"}, "until")],
)  # fmt: skip
def test_interactions_export_answers_bad_filters_with_a_json_400(world, api, params, field):
    response = _export(api, "interactions", params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]


# --- Conversions -------------------------------------------------------------------------------------------------


def test_conversions_export_has_amounts_in_minor_units_and_for_people(world, api):
    interaction = _interaction(world, at=_at(DAY, 9))
    purchase = _conversion(
        world, interaction=interaction, click_id="c-1", amount=1999, external_id="txn-1",
        attribution={"method": "interaction", "reason": "the interaction was named explicitly"},
    )  # fmt: skip
    refund = _conversion(
        world, outcome="refund", amount=-500, external_id="txn-2", occurred_at=_at(DAY, 13),
        attribution={"method": "none", "reason": "no click id and no interaction given"},
    )  # fmt: skip
    yen = _conversion(world, amount=1234, currency="JPY", external_id="txn-3", occurred_at=_at(DAY, 14))

    header, *rows = _table(_export(api, "conversions"))

    assert header == CONVERSION_HEADER
    source = world["source"]
    assert rows == [
        [str(yen.pk), "2026-11-10T14:30:00-06:00", str(source.pk), "Lakeside Outfitters", "purchase", "1234",
         "1234 JPY", "JPY", "txn-3", "", "", "", ""],
        [str(refund.pk), "2026-11-10T13:30:00-06:00", str(source.pk), "Lakeside Outfitters", "refund", "-500",
         "'-5.00 USD", "USD", "txn-2", "", "", "none", "no click id and no interaction given"],
        [str(purchase.pk), "2026-11-10T12:30:00-06:00", str(source.pk), "Lakeside Outfitters", "purchase", "1999",
         "19.99 USD", "USD", "txn-1", "c-1", str(interaction.pk), "interaction",
         "the interaction was named explicitly"],
    ]  # fmt: skip


CONVERSION_FILTERS = {
    "outcome": lambda world, other: {"outcome": "refund"},
    "source": lambda world, other: {"source": str(other.pk)},
    "since": lambda world, other: {"since": _at(DAY + timedelta(days=1), 0).isoformat()},
    "attributed": lambda world, other: {"attributed": "true"},
}
CONVERSION_EXPECTED = {"outcome": {"refund"}, "source": {"other"}, "since": {"other"}, "attributed": {"sale"}}


@pytest.mark.parametrize("case", list(CONVERSION_FILTERS))
def test_conversions_export_applies_the_filters_of_the_conversions_api(world, api, case):
    other = MonetizationSourceFactory(tenant=world["tenant"], name="Other")
    made = {
        "sale": _conversion(world, interaction=_interaction(world, at=_at(DAY, 9))),
        "refund": _conversion(world, outcome="refund", amount=-1999),
        "other": _conversion(world, source=other, occurred_at=_at(DAY + timedelta(days=1), 9)),
    }
    params = CONVERSION_FILTERS[case](world, other)

    exported = {record["id"] for record in _records(_export(api, "conversions", params))}

    assert exported == {str(made[name].pk) for name in CONVERSION_EXPECTED[case]}
    assert exported == {item["id"] for item in api.get("/api/v1/conversions/", params).json()["results"]}


def test_conversions_export_answers_bad_filters_with_a_json_400(world, api):
    response = _export(api, "conversions", {"outcome": "gift", "source": "nope"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"outcome", "source"}


# --- KPIs --------------------------------------------------------------------------------------------------------


@pytest.fixture
def kpi_world(world):
    for offset, (bot, currency, amount) in enumerate([(0, "USD", 5000), (1, "EUR", 700), (0, "USD", -1000)]):
        day = DAY + timedelta(days=offset)
        interaction = _interaction(world, bot=bot, at=_at(day, 10), response_time_ms=100 * (offset + 1))
        outcome = "refund" if amount < 0 else "purchase"
        _conversion(world, interaction=interaction, outcome=outcome, amount=amount, currency=currency,
                    occurred_at=_at(day, 11))  # fmt: skip
    kpi_aggregate_tenant(tenant=world["tenant"])
    return world


def _kpi_cells(figures, currencies):
    def cell(value):
        return "" if value is None else str(value)

    counts = ["messages", "active_members", "interactions", "unhandled", "replies", "clicks", "conversions",
              "purchases", "conversion_rate"]  # fmt: skip
    return [
        *(cell(figures[name]) for name in counts),
        *(cell(figures["revenue"].get(currency, 0)) for currency in currencies),
        *(cell(figures[name]) for name in ["response_time_p50_ms", "response_time_p95_ms", "sentiment_avg"]),
    ]


@pytest.mark.parametrize(
    "extra",
    [{}, {"granularity": "week"}, {"bot": 0}, {"group": 1}, {"granularity": "month", "bot": 1}],
    ids=["day", "week", "bot", "group", "month-bot"],
)
def test_kpi_export_is_the_kpi_series_one_row_per_period_then_the_totals(kpi_world, api, extra):
    params = {"start": "2026-11-09", "end": "2026-11-13", **extra}
    for name in ("bot", "group"):
        if name in params:
            bot = kpi_world["bots"][params[name]]
            params[name] = str(bot.pk if name == "bot" else bot.group_id)
    report = api.get("/api/v1/kpis/", params).json()
    currencies = sorted(report["totals"]["revenue"])
    assert currencies, "the figures of this test carry revenue"

    header, *rows = _table(_export(api, "kpis", params))

    assert header == [
        "period", "messages", "active_members", "interactions", "unhandled", "replies", "clicks", "conversions",
        "purchases", "conversion_rate", *(f"revenue_{currency}" for currency in currencies),
        "response_time_p50_ms", "response_time_p95_ms", "sentiment_avg",
    ]  # fmt: skip
    expected = [[entry["period"], *_kpi_cells(entry, currencies)] for entry in report["series"]]
    expected.append(["total", *_kpi_cells(report["totals"], currencies)])
    assert rows == expected


def test_kpi_export_revenue_has_a_column_per_currency_in_minor_units(kpi_world, api):
    records = _records(_export(api, "kpis", {"start": "2026-11-10", "end": "2026-11-12"}))

    assert [(r["period"], r["revenue_EUR"], r["revenue_USD"]) for r in records] == [
        ("2026-11-10", "0", "5000"), ("2026-11-11", "700", "0"), ("2026-11-12", "0", "-1000"), ("total", "700", "4000"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [{"end": "2026-11-10"}, {"start": "2026-11-10", "end": "2026-11-01"}, {"start": "10/11/2026", "end": "2026-11-10"},
     {"start": "2026-11-01", "end": "2026-11-10", "granularity": "year"},
     {"start": "2024-01-01", "end": "2026-11-10"},
     {"start": "2026-11-01", "end": "2026-11-10", "bot": "b0t", "group": "00000000-0000-0000-0000-000000000000"}],
    ids=["no-start", "reversed", "not-iso", "granularity", "too-long", "unknown-bot-and-group"],
)  # fmt: skip
def test_kpi_export_rejects_what_the_kpi_api_rejects_with_the_same_400(world, api, params):
    response = _export(api, "kpis", params)

    assert response.status_code == 400
    assert response.json() == api.get("/api/v1/kpis/", params).json()
    assert response.json()["fields"]


# --- Revenue ledger ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group_by", ["", "source,day", "bot,group"])
def test_revenue_ledger_export_has_the_ledger_rows(kpi_world, api, group_by):
    _conversion(kpi_world, amount=300, occurred_at=_at(DAY, 15))  # unattributed
    params = {"start": "2026-11-10", "end": "2026-11-12", "group_by": group_by}
    ledger = api.get("/api/v1/revenue-ledger/", params).json()["rows"]
    assert len(ledger) >= 2

    header, *rows = _table(_export(api, "revenue-ledger", params))

    columns = ["currency", "day", "source_id", "source_name", "bot_id", "bot_name", "group_id", "group_name",
               "gross", "refunds", "net", "conversions", "refunds_count"]  # fmt: skip
    assert header == [*columns[:11], "net_display", *columns[11:]]
    as_cells = [[("" if row[name] is None else str(row[name])) for name in columns] for row in ledger]
    assert [row[:11] + row[12:] for row in rows] == as_cells
    assert {row[11] for row in rows} >= {"7.00 EUR"}


def test_revenue_ledger_export_rejects_what_the_ledger_api_rejects(world, api):
    params = {"start": "2026-11-10", "end": "2026-11-01", "group_by": "planet"}

    response = _export(api, "revenue-ledger", params)

    assert response.status_code == 400
    assert response.json() == api.get("/api/v1/revenue-ledger/", params).json()
    assert set(response.json()["fields"]) == {"group_by"}


# --- Formula injection -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=cmd|' /C calc'!A0"]
)
def test_a_text_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(text):
    assert csv_cell(text) == f"'{text}"


@pytest.mark.parametrize("value", [-500, 0, 1999, -0.25, 0.5, Decimal("-1.50")])
def test_numbers_are_written_as_numbers_even_when_negative(value):
    assert csv_cell(value) == value
    assert type(csv_cell(value)) is type(value)


@pytest.mark.parametrize("text", ["a=b", "hello", "'quoted", "", "3-2", " -1"])
def test_harmless_text_is_left_alone(text):
    assert csv_cell(text) == text


def test_formulas_in_interactions_and_conversions_come_out_inert_and_negative_amounts_stay_numbers(world, api):
    evil_member = MemberFactory(tenant=world["tenant"], group=world["bots"][0].group, nickname="@admin")
    interaction = _interaction(world, at=_at(DAY, 10), text='=HYPERLINK("http://evil")', intent="+intent",
                               member=evil_member)  # fmt: skip
    evil_source = MonetizationSourceFactory(tenant=world["tenant"], name="-2+3")
    _conversion(world, source=evil_source, outcome="refund", amount=-500, external_id="=1+1", click_id="@x")

    (row,) = _records(_export(api, "interactions"))
    (conversion,) = _records(_export(api, "conversions"))

    assert row["id"] == str(interaction.pk)
    assert row["message_text"] == """'=HYPERLINK("http://evil")"""
    assert row["intent"] == "'+intent"
    assert row["member_nickname"] == "'@admin"
    assert (conversion["source_name"], conversion["external_id"], conversion["click_id"]) == ("'-2+3", "'=1+1", "'@x")
    assert conversion["amount"] == "-500"
    assert conversion["amount_display"] == "'-5.00 USD"  # text, so defused like any other


# --- Streaming and queries ---------------------------------------------------------------------------------------


def _many_interactions(world, count):
    bot = world["bots"][0]
    start = _at(DAY, 0)
    messages = Message.objects.bulk_create(
        Message(tenant=world["tenant"], group=bot.group, bot=bot, groupme_message_id=f"bulk-{count}-{n}",
                sender_type=Message.SenderType.USER, text=f"message {n}", sent_at=start + timedelta(seconds=n))
        for n in range(count)
    )  # fmt: skip
    Interaction.objects.bulk_create(
        Interaction(tenant=world["tenant"], bot=bot, group=bot.group, message=message, message_text=message.text,
                    intent="help", occurred_at=message.sent_at)
        for message in messages
    )  # fmt: skip


def _many_conversions(world, count):
    Conversion.objects.bulk_create(
        Conversion(tenant=world["tenant"], source=world["source"], outcome="purchase", amount=100 + n,
                   currency="USD", external_id=f"bulk-{count}-{n}", occurred_at=_at(DAY, 0) + timedelta(seconds=n),
                   attribution={"method": "none", "reason": "bulk"})
        for n in range(count)
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "make", "model"),
    [("interactions", _many_interactions, Interaction), ("conversions", _many_conversions, Conversion)],
)
def test_an_export_takes_the_same_queries_for_one_row_as_for_more_than_a_chunk(
    world, api, kind, make, model, django_assert_num_queries
):
    make(world, 1)
    _table(_export(api, kind))  # the key's first use records last_used_at; not counted below
    # the API key with its tenant; the rows, one SELECT with their bot, group, member or source joined in
    with django_assert_num_queries(2):
        assert len(_table(_export(api, kind))) == 1 + 1
    model.objects.all().delete()

    make(world, exports.CHUNK_SIZE + 150)

    with django_assert_num_queries(2):
        assert len(_table(_export(api, kind))) == 1 + exports.CHUNK_SIZE + 150


def test_the_file_is_streamed_and_rows_are_read_in_chunks_only_while_it_is_sent(world, api, monkeypatch):
    _interaction(world, at=_at(DAY, 10))
    chunk_sizes = []
    iterator = QuerySet.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    with CaptureQueriesContext(connection) as before_sending:
        response = _export(api, "interactions")
    assert isinstance(response, StreamingHttpResponse)
    assert not any("bots_interaction" in query["sql"] for query in before_sending.captured_queries)

    with CaptureQueriesContext(connection) as while_sending:
        rows = _table(response)

    assert len(rows) == 2
    assert [q for q in while_sending.captured_queries if "bots_interaction" in q["sql"]] != []
    assert chunk_sizes == [exports.CHUNK_SIZE] == [2000]


def test_a_large_file_is_sent_in_several_chunks(world, api):
    _many_interactions(world, 1500)

    chunks = list(_export(api, "interactions").streaming_content)

    assert len(chunks) > 1
    assert all(len(chunk) < 2 * exports.FLUSH_CHARS for chunk in chunks)
    assert b"".join(chunks).decode().count("\r\n") == 1501


# --- The response ------------------------------------------------------------------------------------------------


def test_the_response_is_a_utf8_csv_attachment_named_for_tenant_kind_and_day(world, api):
    response = _export(api, "revenue-ledger", {"start": "2026-11-10", "end": "2026-11-10"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.now().astimezone(UTC).date().isoformat()
    name = f"botyard-alices-anglers-revenue-ledger-{today}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'


def test_the_file_name_carries_the_utc_date_not_the_tenants(world):
    world["tenant"].slug = 'tokyo"\r\nx'  # and nothing of a slug that could break out of the header
    tokyo_morning = datetime(2026, 3, 2, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 1 March, 23:30 UTC

    name = export_filename(tenant=world["tenant"], kind="kpis", at=tokyo_morning)

    assert name == "botyard-tokyox-kpis-2026-03-01.csv"


def test_a_client_that_accepts_only_csv_gets_the_file_and_its_errors_as_json(world, api):
    _interaction(world, at=_at(DAY, 10))

    assert len(_table(_export(api, "interactions", HTTP_ACCEPT="text/csv"))) == 2
    error = _export(api, "interactions", {"since": "soon"}, HTTP_ACCEPT="text/csv")
    assert error.status_code == 400
    assert error.json()["fields"]["since"]


def test_an_unknown_export_is_a_json_404(api):
    response = _export(api, "members")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_no_key_no_export(world, client):
    _interaction(world, at=_at(DAY, 10))

    response = client.get("/api/v1/exports/interactions.csv")

    assert response.status_code == 401
    assert "Angler" not in response.content.decode()


# --- Tenancy -----------------------------------------------------------------------------------------------------

KIND_PARAMS = {
    "interactions": {},
    "conversions": {},
    "kpis": {"start": "2026-11-10", "end": "2026-11-12"},
    "revenue-ledger": {"start": "2026-11-10", "end": "2026-11-12", "group_by": "source,bot"},
}


@pytest.mark.parametrize("kind", list(KIND_PARAMS))
def test_another_tenants_key_sees_none_of_these_rows(kpi_world, other_tenant, api_client_for, kind):
    secrets = [str(kpi_world["bots"][0].pk), "Angler", "Lakeside", str(kpi_world["source"].pk), "5000"]

    theirs = b"".join(_export(api_client_for(other_tenant), kind, KIND_PARAMS[kind]).streaming_content).decode()
    ours = b"".join(_export(api_client_for(kpi_world["tenant"]), kind, KIND_PARAMS[kind]).streaming_content).decode()

    assert [secret for secret in secrets if secret in theirs] == []
    assert [secret for secret in secrets if secret in ours] != []  # the same request does find them for their owner
    if kind == "kpis":
        assert theirs.splitlines()[-1].startswith("total,0,0,0,")
    else:
        assert theirs.count("\r\n") == 1  # the header alone


def test_another_tenants_bot_cannot_be_named_in_a_filter(kpi_world, other_tenant, api_client_for):
    intruder = api_client_for(other_tenant)
    bot = str(kpi_world["bots"][0].pk)

    assert len(_table(_export(intruder, "interactions", {"bot": bot}))) == 1
    assert _export(intruder, "kpis", {**KIND_PARAMS["kpis"], "bot": bot}).status_code == 400


# --- Schema ------------------------------------------------------------------------------------------------------


def test_the_schema_documents_the_parameters_and_a_csv_response():
    schema = SchemaGenerator(patterns=urlpatterns[:1]).get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/exports/{kind}.csv"]["get"]
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert set(parameters["kind"]["schema"]["enum"]) == {"interactions", "conversions", "kpis", "revenue-ledger"}
    assert {"bot", "group", "intent", "since", "until", "reply_status", "handled", "source", "outcome", "start",
            "end", "granularity", "group_by"} <= set(parameters)  # fmt: skip
    assert list(operation["responses"]["200"]["content"]) == ["text/csv"]
    assert operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ExportError")
