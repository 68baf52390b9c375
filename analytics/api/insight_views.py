"""The insights API: active members, retention, the funnel, top intents, the sentiment trend and community economics.

Read-only figures for the API key's tenant, so plain `APIView`s: parameters are checked as in `KpiView` (a Django
`ValidationError` naming each field, answered 400 by the project's handler), then one selector of
`analytics.insights` answers, scoped to the tenant, and a serializer shapes the response.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.params import MAX_RANGE_DAYS, AnalyticsQuery, analytics_query
from analytics.insights import (
    active_members_rolling,
    community_economics,
    conversion_funnel,
    retention_cohorts,
    sentiment_trend,
    top_intents,
)
from analytics.periods import GRANULARITIES
from tenants.api.authentication import request_tenant

# --- Parameters --------------------------------------------------------------------------------------------------


def _insight_query(
    request: Request,
    *,
    needs_start: bool = True,
    granular: bool = False,
    numbers: dict[str, tuple[int, int]] | None = None,
) -> AnalyticsQuery:
    tenant = request_tenant(request)
    return analytics_query(
        request.query_params, tenant=tenant, needs_start=needs_start, granular=granular, numbers=numbers
    )


_SCOPE_PARAMETERS = [
    OpenApiParameter("bot", OpenApiTypes.UUID, description="Only this bot (member figures: its group)."),
    OpenApiParameter("group", OpenApiTypes.UUID, description="Only this group."),
]
_RANGE_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day (tenant's time zone)."),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, required=True, description=f"Last day, inclusive; at most {MAX_RANGE_DAYS} days."
    ),
    *_SCOPE_PARAMETERS,
]

# The project's error body (tenants/api/errors.py); `fields` cannot be a serializer attribute, hence inline.
InsightQueryErrorSerializer = inline_serializer(
    name="InsightQueryError",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


def _money(help_text: str = "Currency -> net minor units, refunds subtracted.") -> serializers.DictField:
    return serializers.DictField(child=serializers.IntegerField(), help_text=help_text)


def _money_ratio(help_text: str) -> serializers.DictField:
    return serializers.DictField(child=serializers.FloatField(), allow_null=True, help_text=help_text)


# --- Active members ----------------------------------------------------------------------------------------------


class ActiveMembersInsightSerializer(serializers.Serializer[Any]):
    end = serializers.DateField()
    dau = serializers.IntegerField(help_text="Distinct members active on `end`.")
    wau = serializers.IntegerField(help_text="Distinct members active in the 7 days ending on `end`.")
    wau_start = serializers.DateField()
    mau = serializers.IntegerField(help_text="Distinct members active in the 30 days ending on `end`.")
    mau_start = serializers.DateField()
    stickiness = serializers.FloatField(help_text="dau / mau, 0 when mau is 0.")


class ActiveMembersView(APIView):
    """DAU, WAU and MAU as of a day (exact distinct counts of members who sent a message), and stickiness."""

    @extend_schema(
        operation_id="insights_active_members_retrieve",
        parameters=[
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="The day (tenant's time zone)."),
            *_SCOPE_PARAMETERS,
        ],
        responses={200: ActiveMembersInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request, needs_start=False)
        return Response(ActiveMembersInsightSerializer(active_members_rolling(scope=query.scope, end=query.end)).data)


# --- Retention ---------------------------------------------------------------------------------------------------


class RetentionWeekSerializer(serializers.Serializer[Any]):
    offset = serializers.IntegerField(help_text="Weeks after the cohort's week.")
    week = serializers.DateField(help_text="Monday of the week.")
    active = serializers.IntegerField(allow_null=True, help_text="Null: the week begins after `end`.")
    share = serializers.FloatField(allow_null=True, help_text="active / size; null: not observed.")


class RetentionCohortSerializer(serializers.Serializer[Any]):
    cohort = serializers.DateField(help_text="Monday of the ISO week of the members' first active day.")
    size = serializers.IntegerField()
    weeks = RetentionWeekSerializer(many=True)


class RetentionInsightSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    weeks = serializers.IntegerField()
    cohorts = RetentionCohortSerializer(many=True)


class RetentionView(APIView):
    """Weekly cohorts by first active day (from `start`'s week to `end`'s) and the share active in later weeks."""

    @extend_schema(
        operation_id="insights_retention_retrieve",
        parameters=[
            *_RANGE_PARAMETERS,
            OpenApiParameter("weeks", OpenApiTypes.INT, default=8, description="Week offsets to follow, 1 to 52."),
        ],
        responses={200: RetentionInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request, numbers={"weeks": (1, 52)})
        weeks = query.numbers["weeks"] or 8
        report = retention_cohorts(scope=query.scope, start=query.start, end=query.end, weeks=weeks)
        return Response(RetentionInsightSerializer(report).data)


# --- Funnel ------------------------------------------------------------------------------------------------------


class FunnelStepSerializer(serializers.Serializer[Any]):
    step = serializers.ChoiceField(choices=["click", "signup", "checkout", "purchase"])
    reached = serializers.IntegerField(help_text="Clicks with a conversion of this step or a later one.")
    conversions = serializers.IntegerField(help_text="Conversions of this outcome attributed to those clicks.")
    rate = serializers.FloatField(allow_null=True, help_text="reached / the previous step's reached.")
    rate_from_clicks = serializers.FloatField()


class FunnelInsightSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    window_days = serializers.IntegerField(allow_null=True, help_text="Null: each source's attribution window.")
    steps = FunnelStepSerializer(many=True)
    purchase_revenue = _money("Currency -> minor units of the purchases counted.")


class FunnelView(APIView):
    """Human clicks in the range and how many led to a signup, a checkout and a purchase within the window, as of
    the tenant's last KPI run (the clicks are the daily rollups')."""

    @extend_schema(
        operation_id="insights_funnel_retrieve",
        parameters=[
            *_RANGE_PARAMETERS,
            OpenApiParameter(
                "window_days", OpenApiTypes.INT, description="1 to 365; default: each conversion's source's window."
            ),
        ],
        responses={200: FunnelInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request, numbers={"window_days": (1, 365)})
        report = conversion_funnel(
            scope=query.scope, start=query.start, end=query.end, window_days=query.numbers["window_days"]
        )
        return Response(FunnelInsightSerializer(report).data)


# --- Intents -----------------------------------------------------------------------------------------------------


class IntentInsightRowSerializer(serializers.Serializer[Any]):
    intent = serializers.CharField(allow_blank=True, help_text='"": interactions no rule with an intent matched.')
    interactions = serializers.IntegerField()
    unhandled = serializers.IntegerField()
    unhandled_share = serializers.FloatField()
    sentiment_avg = serializers.FloatField()
    purchases = serializers.IntegerField(help_text="Purchases in the range attributed to interactions of the intent.")
    revenue = _money()


class TopIntentsInsightSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    intents = IntentInsightRowSerializer(many=True)


class TopIntentsView(APIView):
    """The intents with the most interactions, their unhandled share, sentiment, purchases and revenue."""

    @extend_schema(
        operation_id="insights_intents_retrieve",
        parameters=[
            *_RANGE_PARAMETERS,
            OpenApiParameter("limit", OpenApiTypes.INT, default=10, description="1 to 100."),
        ],
        responses={200: TopIntentsInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request, numbers={"limit": (1, 100)})
        limit = query.numbers["limit"] or 10
        rows = top_intents(scope=query.scope, start=query.start, end=query.end, limit=limit)
        return Response(TopIntentsInsightSerializer({"start": query.start, "end": query.end, "intents": rows}).data)


# --- Sentiment ---------------------------------------------------------------------------------------------------


class SentimentFiguresSerializer(serializers.Serializer[Any]):
    interactions = serializers.IntegerField()
    unhandled = serializers.IntegerField()
    unhandled_rate = serializers.FloatField(allow_null=True, help_text="Null when there were no interactions.")
    sentiment_avg = serializers.FloatField(allow_null=True, help_text="-1..1; null when there were no interactions.")


class SentimentPeriodSerializer(SentimentFiguresSerializer):
    period = serializers.DateField(help_text="First day of the day, ISO week or month.")


class SentimentTrendInsightSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    granularity = serializers.ChoiceField(choices=list(GRANULARITIES))
    totals = SentimentFiguresSerializer()
    series = SentimentPeriodSerializer(many=True)


class SentimentTrendView(APIView):
    """Average sentiment and unhandled rate per day, week or month, every period present."""

    @extend_schema(
        operation_id="insights_sentiment_retrieve",
        parameters=[
            *_RANGE_PARAMETERS,
            OpenApiParameter("granularity", OpenApiTypes.STR, enum=list(GRANULARITIES), default="day"),
        ],
        responses={200: SentimentTrendInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request, granular=True)
        report = sentiment_trend(scope=query.scope, start=query.start, end=query.end, granularity=query.granularity)
        return Response(SentimentTrendInsightSerializer(report).data)


# --- Economics ---------------------------------------------------------------------------------------------------


class EconomicsFiguresSerializer(serializers.Serializer[Any]):
    revenue = _money()
    interactions = serializers.IntegerField()
    engaged_members = serializers.IntegerField(
        help_text="Distinct members with at least one interaction, as of the last KPI run (a bot's: its own, live)."
    )
    replies = serializers.IntegerField(help_text="Bot replies GroupMe accepted.")
    revenue_per_engaged_member = _money_ratio("Currency -> minor units; null with no engaged members.")
    revenue_per_1000_replies = _money_ratio("Currency -> minor units; null with no replies.")


class EconomicsGroupSerializer(EconomicsFiguresSerializer):
    group_id = serializers.UUIDField(allow_null=True, help_text="Null: money no interaction earned.")
    group_name = serializers.CharField(allow_blank=True)


class EconomicsIntentSerializer(serializers.Serializer[Any]):
    intent = serializers.CharField(allow_null=True, allow_blank=True, help_text="Null: money no interaction earned.")
    interactions = serializers.IntegerField()
    purchases = serializers.IntegerField()
    revenue = _money()
    revenue_per_interaction = _money_ratio("Currency -> minor units; null with no interactions.")


class CommunityEconomicsInsightSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    totals = EconomicsFiguresSerializer()
    groups = EconomicsGroupSerializer(many=True)
    intents = EconomicsIntentSerializer(many=True)


class CommunityEconomicsView(APIView):
    """Net revenue per group and per intent, per engaged member and per 1,000 bot replies."""

    @extend_schema(
        operation_id="insights_economics_retrieve",
        parameters=_RANGE_PARAMETERS,
        responses={200: CommunityEconomicsInsightSerializer, 400: InsightQueryErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        query = _insight_query(request)
        report = community_economics(scope=query.scope, start=query.start, end=query.end)
        return Response(CommunityEconomicsInsightSerializer(report).data)
