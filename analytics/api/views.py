from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.params import analytics_query
from analytics.figure_cache import figures_cached, query_params
from analytics.periods import GRANULARITIES
from analytics.selectors import kpi_last_run, kpi_report
from tenants.api.authentication import request_tenant


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
        query = analytics_query(request.query_params, tenant=request_tenant(request), granular=True)
        tenant = request_tenant(request)
        run = kpi_last_run(tenant=tenant)
        report = figures_cached(
            tenant=tenant, run=run.marked_at if run else None, kind="kpis", params=query_params(query),
            compute=lambda: kpi_report(
                scope=query.scope, start=query.start, end=query.end, granularity=query.granularity,
                group_of_bot=query.group_of_bot,
            ),
        )  # fmt: skip
        return Response(report)
