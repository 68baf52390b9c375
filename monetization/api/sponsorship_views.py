"""Sponsored messages over the API: creatives (CRUD) and the sponsor performance report."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monetization.api.sponsorship_serializers import (
    CreativeSerializer,
    SponsorPerformanceQuerySerializer,
    SponsorPerformanceSerializer,
)
from monetization.models import Creative
from monetization.sponsorship import (
    MAX_PERIOD_DAYS,
    creative_create,
    creative_delete,
    creative_list,
    creative_update,
    sponsor_performance,
)
from tenants.api.authentication import request_tenant
from tenants.api.base import TenantScopedViewSet
from tenants.models import Tenant


class CreativeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet):
    """A sponsor's creatives: appended to bot replies (`reply`) or posted at set local times (`scheduled`)."""

    model = Creative
    serializer_class = CreativeSerializer

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return creative_list(tenant=tenant)

    def create(self, request: Request) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        creative = creative_create(tenant=self.get_tenant(), **payload.validated_data)
        return Response(self.get_serializer(creative).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        creative = self.get_object()
        payload = self.get_serializer(creative, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        creative_update(creative=creative, **payload.validated_data)
        return Response(self.get_serializer(self.get_object()).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: Creative) -> None:
        creative_delete(creative=instance)


class SponsorPerformanceView(APIView):
    """Per sponsorship source and creative: impressions, reach, clicks, CTR and revenue per currency."""

    @extend_schema(
        operation_id="sponsor_performance_retrieve",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day (tenant's time zone)."),
            OpenApiParameter(
                "end", OpenApiTypes.DATE, required=True, description=f"Last day; at most {MAX_PERIOD_DAYS} days."
            ),
        ],
        responses={200: SponsorPerformanceSerializer},
    )
    def get(self, request: Request) -> Response:
        query = SponsorPerformanceQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        rows = sponsor_performance(tenant=request_tenant(request), start=start, end=end)
        return Response(SponsorPerformanceSerializer({"start": start, "end": end, "rows": rows}).data)
