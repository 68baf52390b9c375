from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.params import analytics_query
from analytics.figure_cache import figures_for
from analytics.periods import GRANULARITIES
from analytics.selectors import kpi_last_run
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
        tenant = request_tenant(request)
        query = analytics_query(request.query_params, tenant=tenant, granular=True)
        return Response(figures_for(tenant=tenant, run=kpi_last_run(tenant=tenant), kind="kpis", query=query))
