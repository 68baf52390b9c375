"""CSV exports: rows streamed as CSV, every text cell defused against spreadsheet formula injection.

Row-level sources read `.values_list(...)` of the columns they need with `.iterator(chunk_size=CHUNK_SIZE)`: one
query (a server-side cursor on PostgreSQL), no model instances, so an export of millions of rows holds one chunk
in memory at a time. Aggregates (KPIs, the ledger) are small by construction and are read whole.
"""

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from bots.models import Interaction
from monetization.ledger import LedgerRow, format_minor_units
from monetization.models import Conversion

CHUNK_SIZE = 2000
# Lines are joined into chunks of about this size: one write per line would be millions of tiny socket writes.
FLUSH_CHARS = 64 * 1024
# OWASP's list: a spreadsheet evaluates a cell starting with one of these as a formula (tab and CR included).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | Decimal


def csv_cell(value: Any) -> Cell:
    """The value as a CSV cell. Numbers pass unchanged (-500 stays -500); any text that a spreadsheet would read
    as a formula gets a leading single quote, which makes it a literal string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return value
    text = value.isoformat() if isinstance(value, date) else str(value)
    return f"'{text}" if text.startswith(FORMULA_TRIGGERS) else text


class _Echo:
    """A file for `csv.writer` whose `write` hands the formatted line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header and the rows as CSV text (RFC 4180, CRLF), produced lazily in chunks of ~FLUSH_CHARS."""
    writer = csv.writer(_Echo())
    pending: list[str] = [writer.writerow([csv_cell(name) for name in header])]
    size = len(pending[0])
    for row in rows:
        line: str = writer.writerow([csv_cell(value) for value in row])
        pending.append(line)
        size += len(line)
        if size >= FLUSH_CHARS:
            yield "".join(pending)
            pending, size = [], 0
    if pending:
        yield "".join(pending)


def _local_iso(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()


# --- Row-level exports -------------------------------------------------------------------------------------------

INTERACTION_HEADER = (
    "id", "occurred_at", "bot_id", "bot_name", "group_id", "group_name", "member_nickname", "intent", "handled",
    "sentiment", "reply_status", "response_time_ms", "message_text",
)  # fmt: skip
_INTERACTION_COLUMNS = (
    "id", "occurred_at", "bot_id", "bot__name", "group_id", "group__name", "member__nickname", "intent", "handled",
    "sentiment", "reply_status", "response_time_ms", "message_text",
)  # fmt: skip


def interaction_rows(*, interactions: QuerySet[Interaction], zone: tzinfo) -> Iterator[tuple[Any, ...]]:
    """One row per interaction, times in `zone` with their offset; a redacted text (null) is an empty cell."""
    for row in interactions.values_list(*_INTERACTION_COLUMNS).iterator(chunk_size=CHUNK_SIZE):
        yield (row[0], _local_iso(row[1], zone), *row[2:])


CONVERSION_HEADER = (
    "id", "occurred_at", "source_id", "source_name", "outcome", "amount", "amount_display", "currency",
    "external_id", "click_id", "interaction_id", "attribution_method", "attribution_reason",
)  # fmt: skip
_CONVERSION_COLUMNS = (
    "id", "occurred_at", "source_id", "source__name", "outcome", "amount", "currency", "external_id", "click_id",
    "interaction_id", "attribution__method", "attribution__reason",
)  # fmt: skip


def _amount_display(amount: int, currency: str) -> str:
    try:
        return format_minor_units(amount, currency)
    except ValueError:  # not an ISO 4217 code: one bad row must not cut the file short halfway through
        return f"{amount} {currency}"


def conversion_rows(*, conversions: QuerySet[Conversion], zone: tzinfo) -> Iterator[tuple[Any, ...]]:
    """One row per conversion: the amount in minor units (an integer), also formatted for people."""
    for row in conversions.values_list(*_CONVERSION_COLUMNS).iterator(chunk_size=CHUNK_SIZE):
        (pk, occurred_at, source_id, source_name, outcome, amount, currency, external_id, click_id, interaction_id,
         method, reason) = row  # fmt: skip
        yield (
            pk, _local_iso(occurred_at, zone), source_id, source_name, outcome, amount,
            _amount_display(amount, currency), currency, external_id, click_id, interaction_id, method, reason,
        )  # fmt: skip


# --- Aggregates --------------------------------------------------------------------------------------------------

_KPI_COUNTS = (
    "messages", "active_members", "interactions", "unhandled", "replies", "clicks", "conversions", "purchases",
    "conversion_rate",
)  # fmt: skip
_KPI_AFTER_REVENUE = ("response_time_p50_ms", "response_time_p95_ms", "sentiment_avg")
KPI_TOTALS_LABEL = "total"


def kpi_table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """`kpi_report`'s series, one row per period, then its totals; revenue is one column per currency present,
    in minor units (`revenue_USD`), never added across currencies."""
    entries = [*report["series"], report["totals"]]
    currencies = sorted({currency for entry in entries for currency in entry["revenue"]})
    header = ["period", *_KPI_COUNTS, *(f"revenue_{currency}" for currency in currencies), *_KPI_AFTER_REVENUE]

    def row(label: str, figures: dict[str, Any]) -> list[Any]:
        return [
            label, *(figures[name] for name in _KPI_COUNTS),
            *(figures["revenue"].get(currency, 0) for currency in currencies),
            *(figures[name] for name in _KPI_AFTER_REVENUE),
        ]  # fmt: skip

    rows = [row(entry["period"], entry) for entry in report["series"]]
    rows.append(row(KPI_TOTALS_LABEL, report["totals"]))
    return header, rows


LEDGER_HEADER = (
    "currency", "day", "source_id", "source_name", "bot_id", "bot_name", "group_id", "group_name", "gross",
    "refunds", "net", "net_display", "conversions", "refunds_count",
)  # fmt: skip


def ledger_table(rows: Iterable[LedgerRow]) -> list[list[Any]]:
    """The ledger's rows as the API gives them (columns not grouped by are empty), with the net for people."""
    table: list[list[Any]] = []
    for row in rows:
        table.append([
            row["currency"], row["day"], row["source_id"], row["source_name"], row["bot_id"], row["bot_name"],
            row["group_id"], row["group_name"], row["gross"], row["refunds"], row["net"],
            _amount_display(row["net"], row["currency"]), row["conversions"], row["refunds_count"],
        ])  # fmt: skip
    return table
