from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import (
    ApiErrorSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    IssuedApiKeySerializer,
)
from tenants.models import ApiKey
from tenants.services import IssuedApiKey, api_key_create, api_key_revoke, api_key_rotate


def _issued_response(issued: IssuedApiKey, *, status_code: int) -> Response:
    body = IssuedApiKeySerializer(issued.api_key).data
    body["key"] = issued.raw_key
    return Response(body, status=status_code)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    model = ApiKey
    serializer_class = ApiKeySerializer

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: IssuedApiKeySerializer})
    def create(self, request: Request) -> Response:
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = api_key_create(tenant=self.get_tenant(), name=payload.validated_data["name"])
        return _issued_response(issued, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: IssuedApiKeySerializer, 400: ApiErrorSerializer})
    @action(detail=True, methods=["post"])
    def rotate(self, request: Request, pk: str) -> Response:
        issued = api_key_rotate(api_key=self.get_object())
        return _issued_response(issued, status_code=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ApiKeySerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        return Response(ApiKeySerializer(api_key_revoke(api_key=self.get_object())).data)
