import pytest
from rest_framework import mixins
from rest_framework.test import APIRequestFactory, force_authenticate

from tenants.api.authentication import ApiClient
from tenants.api.base import TenantScopedViewSet
from tenants.api.serializers import ApiKeySerializer
from tenants.models import ApiKey
from tenants.scoping import UnscopedQuerysetError
from tenants.tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_a_viewset_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="tenant_queryset"):

        class LeakyViewSet(TenantScopedViewSet):
            model = ApiKey

            def get_queryset(self):
                return ApiKey.objects.all()


def _list_as(tenant, viewset_class):
    api_key = ApiKeyFactory(tenant=tenant)
    request = APIRequestFactory().get("/")
    force_authenticate(request, user=ApiClient(api_key), token=api_key)
    return viewset_class.as_view({"get": "list"})(request)


def test_an_unscoped_tenant_queryset_fails_loudly_instead_of_leaking(tenant, other_tenant):
    class ForgetfulViewSet(mixins.ListModelMixin, TenantScopedViewSet):
        model = ApiKey
        serializer_class = ApiKeySerializer

        def tenant_queryset(self, *, tenant):
            return ApiKey.objects.all()

    with pytest.raises(UnscopedQuerysetError):
        _list_as(tenant, ForgetfulViewSet)


def test_a_queryset_scoped_to_another_tenant_fails_loudly(tenant, other_tenant):
    class ConfusedViewSet(mixins.ListModelMixin, TenantScopedViewSet):
        model = ApiKey
        serializer_class = ApiKeySerializer

        def tenant_queryset(self, *, tenant):
            return ApiKey.objects.for_tenant(other_tenant)

    with pytest.raises(UnscopedQuerysetError):
        _list_as(tenant, ConfusedViewSet)


def test_scoping_survives_further_filtering(tenant):
    class FilteringViewSet(mixins.ListModelMixin, TenantScopedViewSet):
        model = ApiKey
        serializer_class = ApiKeySerializer

        def tenant_queryset(self, *, tenant):
            return ApiKey.objects.for_tenant(tenant).filter(status="active").order_by("name")

    assert _list_as(tenant, FilteringViewSet).status_code == 200
