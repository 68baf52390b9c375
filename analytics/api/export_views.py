"""CSV exports of the tenant's rows and figures: GET /api/v1/exports/<kind>.csv, streamed.

Each kind takes the query parameters of the API it mirrors, checked the same way and before the first byte is
sent, so a mistake is a JSON 400 and never a half-written file.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from analytics.api.params import MAX_RANGE_DAYS, analytics_query
from analytics.exports import (
    CONVERSION_HEADER,
    INTERACTION_HEADER,
    LEDGER_HEADER,
    conversion_rows,
    csv_stream,
    interaction_rows,
    kpi_table,
    ledger_table,
)
from analytics.figure_sets import kpi_figures
from analytics.periods import GRANULARITIES
from bots.api.views import InteractionFilter
from bots.models import Interaction
from bots.selectors import interaction_list
from monetization.api.ledger_views import MAX_PERIOD_DAYS, RevenueLedgerQuerySerializer
from monetization.api.views import ConversionFilter
from monetization.ledger import LEDGER_GROUPINGS, revenue_ledger
from monetization.models import Conversion
from monetization.selectors import conversion_list
from tenants.api.authentication import request_tenant
from tenants.models import Tenant
from tenants.scoping import ensure_scoped

Table = tuple[Sequence[str], Iterable[Sequence[Any]]]


def _interactions(tenant: Tenant, request: Request) -> Table:
    filters = InteractionFilter(data=request.query_params, queryset=interaction_list(tenant=tenant), request=request)
    if not filters.is_valid():
        raise translate_validation(filters.errors)
    interactions = ensure_scoped(filters.qs, tenant=tenant)
    return INTERACTION_HEADER, interaction_rows(interactions=interactions, zone=tenant.time_zone)


def _conversions(tenant: Tenant, request: Request) -> Table:
    filters = ConversionFilter(data=request.query_params, queryset=conversion_list(tenant=tenant), request=request)
    if not filters.is_valid():
        raise translate_validation(filters.errors)
    conversions = ensure_scoped(filters.qs, tenant=tenant)
    return CONVERSION_HEADER, conversion_rows(conversions=conversions, zone=tenant.time_zone)


def _kpis(tenant: Tenant, request: Request) -> Table:
    return kpi_table(kpi_figures(analytics_query(request.query_params, tenant=tenant, granular=True)))


def _revenue_ledger(tenant: Tenant, request: Request) -> Table:
    query = RevenueLedgerQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    found = query.validated_data
    rows = revenue_ledger(tenant=tenant, start=found["start"], end=found["end"], group_by=found["group_by"])
    return LEDGER_HEADER, ledger_table(rows)


EXPORTS: dict[str, Callable[[Tenant, Request], Table]] = {
    "interactions": _interactions,
    "conversions": _conversions,
    "kpis": _kpis,
    "revenue-ledger": _revenue_ledger,
}


def export_filename(*, tenant: Tenant, kind: str, at: datetime) -> str:
    """`botyard-<tenant slug>-<kind>-<UTC date of at>.csv`, reduced to characters that are safe in a header."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "", tenant.slug) or "tenant"
    return f"botyard-{slug}-{kind}-{at.astimezone(UTC).date().isoformat()}.csv"


class _JsonErrorsNegotiation(BaseContentNegotiation):
    """Whatever the client accepts: the file is CSV, and an error is the API's JSON. DRF's default negotiation
    would answer `Accept: text/csv` with a 406, as the only renderer here is JSON (it renders errors only)."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


ExportErrorSerializer = inline_serializer(  # the project's error body (tenants/api/errors.py)
    name="ExportError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


def _for(*kinds: str) -> str:
    return f"Only for {', '.join(kinds)}."


class ExportView(APIView):
    """The tenant's interactions, conversions, KPI table or revenue ledger as a CSV file, streamed."""

    content_negotiation_class = _JsonErrorsNegotiation

    @extend_schema(
        operation_id="exports_retrieve",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(EXPORTS)),
            OpenApiParameter("bot", OpenApiTypes.UUID, description=_for("interactions", "kpis")),
            OpenApiParameter("group", OpenApiTypes.UUID, description=_for("interactions", "kpis")),
            OpenApiParameter("intent", OpenApiTypes.STR, description=_for("interactions")),
            OpenApiParameter(
                "reply_status", OpenApiTypes.STR, enum=Interaction.ReplyStatus.values, description=_for("interactions")
            ),
            OpenApiParameter("handled", OpenApiTypes.BOOL, description=_for("interactions")),
            OpenApiParameter("source", OpenApiTypes.UUID, description=_for("conversions")),
            OpenApiParameter(
                "outcome", OpenApiTypes.STR, enum=Conversion.Outcome.values, description=_for("conversions")
            ),
            OpenApiParameter("attributed", OpenApiTypes.BOOL, description=_for("conversions")),
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description=_for("interactions", "conversions") + " Inclusive."
            ),
            OpenApiParameter(
                "until", OpenApiTypes.DATETIME, description=_for("interactions", "conversions") + " Exclusive."
            ),
            OpenApiParameter(
                "start",
                OpenApiTypes.DATE,
                description="Required for kpis and revenue-ledger: the first day, in the tenant's time zone.",
            ),
            OpenApiParameter(
                "end",
                OpenApiTypes.DATE,
                description=f"Required for kpis (at most {MAX_RANGE_DAYS} days) and revenue-ledger (at most "
                f"{MAX_PERIOD_DAYS} days): the last day, inclusive.",
            ),
            OpenApiParameter(
                "granularity", OpenApiTypes.STR, enum=list(GRANULARITIES), default="day", description=_for("kpis")
            ),
            OpenApiParameter(
                "group_by",
                OpenApiTypes.STR,
                description=f"Only for revenue-ledger: comma-separated, any of {', '.join(LEDGER_GROUPINGS)}.",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="CSV (RFC 4180, UTF-8) with a header row, sent as an attachment named "
                "botyard-<tenant>-<kind>-<UTC date>.csv. Text cells starting with = + - @, tab or CR are prefixed "
                "with a single quote; numbers are written as they are (amounts in minor units). The kpis file ends "
                'with a row whose period is "total".',
            ),
            400: ExportErrorSerializer,
            404: ExportErrorSerializer,
        },
    )
    def get(self, request: Request, kind: str) -> StreamingHttpResponse:
        tenant = request_tenant(request)
        export = EXPORTS.get(kind)
        if export is None:
            raise NotFound(f"No such export; use one of {', '.join(EXPORTS)}.")
        header, rows = export(tenant, request)  # validates: any error is raised here, before streaming starts
        response = StreamingHttpResponse(csv_stream(header, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{export_filename(tenant=tenant, kind=kind, at=timezone.now())}"'
        )
        return response
