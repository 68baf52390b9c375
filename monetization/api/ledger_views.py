"""The revenue ledger and the reconciliation report: read-only figures for the API key's tenant.

They hold no rows of their own (every figure is an aggregate), so they are plain `APIView`s rather than viewsets;
the tenant is the API key's, and the selectors in `monetization.ledger` scope every query to it.
"""

from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monetization.ledger import LEDGER_GROUPINGS, reconciliation, revenue_ledger, revenue_totals
from tenants.api.authentication import request_tenant
from tenants.api.dates import ReportDateField

MAX_PERIOD_DAYS = 366

# --- Query parameters --------------------------------------------------------------------------------------------


class LedgerPeriodQuerySerializer(serializers.Serializer[Any]):
    start = ReportDateField()
    end = ReportDateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start: date = attrs["start"]
        end: date = attrs["end"]
        if end < start:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise serializers.ValidationError({"end": f"At most {MAX_PERIOD_DAYS} days from start to end."})
        return attrs


class RevenueLedgerQuerySerializer(LedgerPeriodQuerySerializer):
    group_by = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_group_by(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in LEDGER_GROUPINGS]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown grouping {', '.join(unknown)}; use any of {', '.join(LEDGER_GROUPINGS)}, comma-separated."
            )
        return list(dict.fromkeys(names))  # repeats collapse, order kept


# --- Responses ---------------------------------------------------------------------------------------------------


class RevenueLedgerRowSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    day = serializers.DateField(allow_null=True, help_text="The tenant's local date; null unless grouped by day.")
    source_id = serializers.UUIDField(allow_null=True)
    source_name = serializers.CharField(allow_null=True)
    bot_id = serializers.UUIDField(allow_null=True, help_text="Null for unattributed conversions (or not grouped).")
    bot_name = serializers.CharField(allow_null=True, help_text='"unattributed" for conversions with no bot.')
    group_id = serializers.UUIDField(allow_null=True)
    group_name = serializers.CharField(allow_null=True, help_text='"unattributed" for conversions with no group.')
    gross = serializers.IntegerField(help_text="Sum of positive amounts, minor units.")
    refunds = serializers.IntegerField(help_text="Sum of refunds, minor units, negative.")
    net = serializers.IntegerField(help_text="gross + refunds, minor units.")
    conversions = serializers.IntegerField(help_text="Number of conversions other than refunds.")
    refunds_count = serializers.IntegerField()


class RevenueLedgerSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ListField(child=serializers.CharField())
    rows = RevenueLedgerRowSerializer(many=True)
    totals = serializers.DictField(child=serializers.IntegerField(), help_text="Currency → net minor units.")


class ReconciliationAmountSerializer(serializers.Serializer[Any]):
    amount = serializers.IntegerField(help_text="Minor units.")
    count = serializers.IntegerField()


class ReconciliationRowSerializer(serializers.Serializer[Any]):
    source_id = serializers.UUIDField()
    source_name = serializers.CharField()
    currency = serializers.CharField()
    receipts_accepted = ReconciliationAmountSerializer(help_text="First-time reports received in the period.")
    duplicates_ignored = serializers.IntegerField(help_text="Repeated reports received in the period.")
    conversions = ReconciliationAmountSerializer(help_text="Conversions that occurred in the period (the ledger).")
    difference = ReconciliationAmountSerializer(help_text="receipts_accepted minus conversions.")
    ok = serializers.BooleanField()


class ReconciliationTotalSerializer(serializers.Serializer[Any]):
    receipts_accepted = serializers.IntegerField()
    conversions = serializers.IntegerField()
    difference = serializers.IntegerField()


class ReconciliationMismatchSerializer(serializers.Serializer[Any]):
    external_id = serializers.CharField()
    source_id = serializers.UUIDField()
    reason = serializers.ChoiceField(
        choices=["conversion_missing", "amount_differs", "conversion_outside_range", "receipt_missing",
                 "receipt_outside_range"],
    )  # fmt: skip
    currency = serializers.CharField()
    receipt_amount = serializers.IntegerField(allow_null=True)
    conversion_amount = serializers.IntegerField(allow_null=True)


class ReconciliationSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    ok = serializers.BooleanField(help_text="Every row balances and nothing is mismatched.")
    rows = ReconciliationRowSerializer(many=True)
    totals = serializers.DictField(child=ReconciliationTotalSerializer(), help_text="Per currency.")
    mismatches = ReconciliationMismatchSerializer(many=True, help_text="At most 100.")
    mismatches_truncated = serializers.BooleanField()


# The project's error body (tenants/api/errors.py); `fields` cannot be a serializer attribute, hence inline.
LedgerQueryErrorSerializer = inline_serializer(
    name="LedgerQueryError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


# --- Views -------------------------------------------------------------------------------------------------------

_PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day (tenant's time zone)."),
    OpenApiParameter("end", OpenApiTypes.DATE, required=True, description=f"Last day; at most {MAX_PERIOD_DAYS} days."),
]


class RevenueLedgerView(APIView):
    """Revenue per currency (never added across currencies), optionally per day, source, bot and group."""

    @extend_schema(
        operation_id="revenue_ledger_retrieve",
        parameters=[
            *_PERIOD_PARAMETERS,
            OpenApiParameter(
                "group_by",
                OpenApiTypes.STR,
                description=f"Comma-separated, any of {', '.join(LEDGER_GROUPINGS)}; rows are always per currency.",
            ),
        ],
        responses={200: RevenueLedgerSerializer, 400: LedgerQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = RevenueLedgerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        group_by = query.validated_data["group_by"]
        tenant = request_tenant(request)
        ledger = {
            "start": start, "end": end, "group_by": group_by,
            "rows": revenue_ledger(tenant=tenant, start=start, end=end, group_by=group_by),
            "totals": revenue_totals(tenant=tenant, start=start, end=end),
        }  # fmt: skip
        return Response(RevenueLedgerSerializer(ledger).data)


class ReconciliationView(APIView):
    """Accepted postback receipts against recorded conversions, per source and currency, with what disagrees."""

    @extend_schema(
        operation_id="reconciliation_retrieve",
        parameters=_PERIOD_PARAMETERS,
        responses={200: ReconciliationSerializer, 400: LedgerQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = LedgerPeriodQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        report = reconciliation(tenant=request_tenant(request), start=start, end=end)
        return Response(ReconciliationSerializer({"start": start, "end": end, **report}).data)
