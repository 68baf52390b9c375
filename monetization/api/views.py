from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.request import Request
from rest_framework.response import Response

from bots.api.views import OccurredCursorPagination
from monetization.api.serializers import (
    ConversionCreateSerializer,
    ConversionSerializer,
    LinkSerializer,
    MonetizationSourceSecretSerializer,
    MonetizationSourceSerializer,
)
from monetization.models import Conversion, Link, MonetizationSource
from monetization.selectors import conversion_list, link_list, source_list
from monetization.services import (
    conversion_record,
    conversion_report_clean,
    link_create,
    link_delete,
    link_update,
    source_create,
    source_delete,
    source_update,
)
from tenants.api.base import TenantScopedViewSet
from tenants.api.filters import ReportDateTimeFilter, StrictBooleanFilter
from tenants.api.serializers import ApiErrorSerializer
from tenants.models import Tenant


# A source with conversions cannot be deleted (the ledger keeps them): a 400 that says to deactivate it instead.
@extend_schema_view(destroy=extend_schema(responses={204: None, 400: ApiErrorSerializer}))
class MonetizationSourceViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet
):
    model = MonetizationSource
    serializer_class = MonetizationSourceSerializer

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return source_list(tenant=tenant)

    @extend_schema(responses={201: MonetizationSourceSecretSerializer})
    def create(self, request: Request) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source = source_create(tenant=self.get_tenant(), **payload.validated_data)
        return Response(MonetizationSourceSecretSerializer(source).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        source = self.get_object()
        payload = self.get_serializer(source, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        if fields.pop("kind", source.kind) != source.kind:
            raise ValidationError({"kind": "A source's kind cannot change; create another source."})
        return Response(self.get_serializer(source_update(source=source, **fields)).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: MonetizationSource) -> None:
        source_delete(source=instance)


class LinkViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet):
    model = Link
    serializer_class = LinkSerializer

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return link_list(tenant=tenant)

    def create(self, request: Request) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        link = link_create(tenant=self.get_tenant(), **payload.validated_data)
        return Response(self.get_serializer(link).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        link = self.get_object()
        payload = self.get_serializer(link, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        link_update(link=link, **payload.validated_data)
        return Response(self.get_serializer(self.get_object()).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: Link) -> None:
        link_delete(link=instance)


class ConversionFilter(django_filters.FilterSet):
    source = django_filters.UUIDFilter(field_name="source_id")
    outcome = django_filters.ChoiceFilter(choices=Conversion.Outcome.choices)
    since = ReportDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = ReportDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    attributed = StrictBooleanFilter(field_name="interaction", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Conversion
        fields = ["source", "outcome", "since", "until", "attributed"]


class ConversionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Conversions with their attribution explained. Creating one twice (same source and external_id) returns the
    first with 200."""

    model = Conversion
    serializer_class = ConversionSerializer
    filterset_class = ConversionFilter
    pagination_class = OccurredCursorPagination

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return conversion_list(tenant=tenant)

    @extend_schema(request=ConversionCreateSerializer, responses={200: ConversionSerializer, 201: ConversionSerializer})
    def create(self, request: Request) -> Response:
        payload = ConversionCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        interaction = data.get("interaction")
        report = conversion_report_clean(
            event=data["outcome"], amount=data["amount"], currency=data["currency"], txn_id=data["external_id"],
            click_id=data["click_id"], interaction=interaction.pk if interaction else None,
            occurred_at=data["occurred_at"],
        )  # fmt: skip
        conversion, created = conversion_record(source=data["source"], report=report, via=Conversion.Via.API)
        return Response(
            ConversionSerializer(conversion).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )
