from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.selectors import GRANULARITIES, KpiScope, kpi_report
from bots.selectors import bot_get
from groups.selectors import group_get
from tenants.api.authentication import ApiClient

MAX_RANGE_DAYS = 800


def _date(params: Any, name: str, errors: dict[str, str]) -> date | None:
    raw = params.get(name)
    if not raw:
        errors[name] = "Required, as YYYY-MM-DD."
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = "A date as YYYY-MM-DD."
        return None


class KpiView(APIView):
    """The contract's KPI figures from the daily rollups, for a date range in the tenant's time zone."""

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True),
            OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="Inclusive."),
            OpenApiParameter("granularity", OpenApiTypes.STR, enum=list(GRANULARITIES), default="day"),
            OpenApiParameter("bot", OpenApiTypes.UUID),
            OpenApiParameter("group", OpenApiTypes.UUID),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        assert isinstance(request.user, ApiClient)
        tenant = request.user.tenant
        params = request.query_params
        errors: dict[str, str] = {}
        start, end = _date(params, "start", errors), _date(params, "end", errors)
        granularity = params.get("granularity", "day")
        if granularity not in GRANULARITIES:
            errors["granularity"] = f"One of {', '.join(GRANULARITIES)}."
        if start and end and end < start:
            errors["end"] = "On or after start."
        elif start and end and (end - start).days + 1 > MAX_RANGE_DAYS:
            errors["end"] = f"A range is at most {MAX_RANGE_DAYS} days."
        bot = group = None
        if params.get("bot"):
            bot = bot_get(tenant=tenant, bot_id=params["bot"])
            if bot is None:
                errors["bot"] = "No such bot."
        if params.get("group"):
            group = group_get(tenant=tenant, group_id=params["group"])
            if group is None:
                errors["group"] = "No such group."
        if errors:
            raise ValidationError(errors)
        assert start is not None
        assert end is not None
        scope = KpiScope(tenant=tenant, bot_id=bot.pk if bot else None, group_id=group.pk if group else None)
        report = kpi_report(
            scope=scope, start=start, end=end, granularity=granularity, group_of_bot=bot.group_id if bot else None
        )
        return Response(report)
