import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict
from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from monetization.ledger import revenue_ledger
from monetization.models import Click, Conversion, Link, MonetizationSource
from tenants.models import Tenant


def source_list(*, tenant: Tenant) -> QuerySet[MonetizationSource]:
    return MonetizationSource.objects.for_tenant(tenant)


def link_rows(*, tenant: Tenant) -> QuerySet[Link]:
    """The tenant's links as plain rows, without counts: for the page that edits or deletes one."""
    return Link.objects.for_tenant(tenant)


def link_list(*, tenant: Tenant) -> QuerySet[Link]:
    """Links with their human click counts (link-preview fetchers excluded), counted in the same query."""
    human_clicks = Count("clicks", filter=Q(clicks__is_bot=False))
    links: QuerySet[Link] = Link.objects.for_tenant(tenant).annotate(human_clicks=human_clicks)
    return links


def conversion_list(*, tenant: Tenant) -> QuerySet[Conversion]:
    return Conversion.objects.for_tenant(tenant).order_by("-occurred_at", "-id")


# --- Dashboard reads -------------------------------------------------------------------------------------------------


def _count_of(rows: QuerySet[Any], *, per: str, counted: Count | None = None) -> Coalesce:
    """A correlated COUNT per row of the outer query: evaluated only for the rows a page shows (after LIMIT),
    where a JOIN + GROUP BY would aggregate every click the tenant ever had before paginating."""
    per_row = rows.order_by().values(per).annotate(n=counted or Count("pk")).values("n")
    return Coalesce(Subquery(per_row, output_field=IntegerField()), 0)


class _RowCount(Subquery):
    """The number of rows a subquery returns, as a correlated scalar: `(SELECT COUNT(*) FROM (<subquery>))`."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()


def link_list_with_stats(*, tenant: Tenant) -> QuerySet[Link]:
    """Links, newest first, with their source and, in the same query: human clicks (`total_clicks`), distinct
    visitors among them (`unique_clicks`; the visitor hash is salted per day, so one person on two days counts
    twice) and the conversions attributed to their clicks (`conversion_count`, refunds excluded)."""
    human_clicks = Click.objects.filter(link_id=OuterRef("pk"), is_bot=False)
    attributed = Conversion.objects.filter(attributed_click__link_id=OuterRef("pk")).exclude(
        outcome=Conversion.Outcome.REFUND
    )
    # Both click counts read only the (link, visitor_hash) index of people's clicks (COUNT(*), not of a column it
    # lacks), and distinct visitors come out of it in order: SELECT DISTINCT there is a streamed Unique, where it
    # used to hash, or COUNT(DISTINCT) to sort, every click of the link (46 -> 20 ms of SQL, bench/dashboard.py).
    visitors = human_clicks.exclude(visitor_hash="").order_by().values("visitor_hash").distinct()
    links: QuerySet[Link] = (
        Link.objects.for_tenant(tenant)
        .select_related("source")
        .annotate(
            total_clicks=_count_of(human_clicks, per="link_id", counted=Count("*")),
            unique_clicks=_RowCount(visitors),
            conversion_count=_count_of(attributed, per="attributed_click__link_id"),
        )
        .order_by("-created_at", "-id")
    )
    return links


@dataclass(frozen=True)
class ConversionCursor:
    """Where a page of conversions ends (newest first): the last row's time and id."""

    occurred_at: datetime
    conversion_id: UUID


def conversion_page(
    *,
    tenant: Tenant,
    since_at: datetime | None = None,
    until_at: datetime | None = None,
    source_id: UUID | None = None,
    outcome: str = "",
    after: ConversionCursor | None = None,
    limit: int = 50,
) -> tuple[list[Conversion], ConversionCursor | None]:
    """One page of conversions, newest first, and the cursor of the next page (None on the last one).

    A keyset on (occurred_at, id) rather than OFFSET/COUNT: conversions grow without bound, and the (tenant,
    -occurred_at) index answers any page in the same time. `until_at` is exclusive.
    """
    conversions = conversion_list(tenant=tenant).select_related("source")
    if since_at is not None:
        conversions = conversions.filter(occurred_at__gte=since_at)
    if until_at is not None:
        conversions = conversions.filter(occurred_at__lt=until_at)
    if source_id is not None:
        conversions = conversions.filter(source_id=source_id)
    if outcome:
        conversions = conversions.filter(outcome=outcome)
    if after is not None:
        conversions = conversions.filter(
            Q(occurred_at__lt=after.occurred_at) | Q(occurred_at=after.occurred_at, id__lt=after.conversion_id)
        )
    rows = list(conversions[: limit + 1])  # one more than shown: is there a next page?
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], ConversionCursor(occurred_at=last.occurred_at, conversion_id=last.pk)


def _duration_words(elapsed: timedelta) -> str:
    seconds = max(int(elapsed.total_seconds()), 0)
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def attribution_explained(*, conversion: Conversion) -> str:
    """The stored attribution decision (services._attribution) in a sentence for people.

    e.g. "Last click 2 h before, within the 7-day window of Lakeside, from rule “kayaks”." or
    "Not attributed: no click id and no interaction given."
    """
    attribution = conversion.attribution or {}
    method = attribution.get("method")
    window = attribution.get("window_days")
    source = conversion.source.name
    if method == "click":
        words = "Last click"
        with contextlib.suppress(TypeError, ValueError):  # an explanation stored by an older version: no timing
            clicked_at = datetime.fromisoformat(str(attribution.get("clicked_at")))
            words += f" {_duration_words(conversion.occurred_at - clicked_at)} before"
        words += f", within the {window}-day window of {source}"
        if attribution.get("rule_name"):
            words += f", from a reply of rule “{attribution['rule_name']}”"
        if not attribution.get("interaction_id"):
            words += "; the link was not clicked from a bot reply"
        return words + "."
    if method == "interaction":
        return "Attributed to the interaction the report named (no click)."
    if method == "none":
        reason = str(attribution.get("reason") or "no reason recorded")
        if "window" in reason and window is not None:
            return f"Not attributed: {reason} ({window}-day window of {source})."
        return f"Not attributed: {reason}."
    return "No attribution recorded."


class KindLedgerRow(TypedDict):
    currency: str
    kind: str
    gross: int
    refunds: int
    net: int
    conversions: int
    refunds_count: int


def revenue_ledger_by_source_kind(*, tenant: Tenant, start: date, end: date) -> list[KindLedgerRow]:
    """The ledger per currency and source kind (affiliate, sponsorship, ...): the per-source ledger, rolled up."""
    kinds: dict[UUID | None, str] = dict(source_list(tenant=tenant).values_list("pk", "kind"))
    rolled: dict[tuple[str, str], KindLedgerRow] = {}
    for row in revenue_ledger(tenant=tenant, start=start, end=end, group_by=["source"]):
        kind = kinds.get(row["source_id"], "")
        total = rolled.setdefault(
            (row["currency"], kind),
            KindLedgerRow(currency=row["currency"], kind=kind, gross=0, refunds=0, net=0, conversions=0,
                          refunds_count=0),
        )  # fmt: skip
        for figure in ("gross", "refunds", "net", "conversions", "refunds_count"):
            total[figure] += row[figure]
    return [rolled[key] for key in sorted(rolled)]
