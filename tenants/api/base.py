from typing import Any

from rest_framework.viewsets import GenericViewSet

from tenants.api.authentication import ApiClient, request_tenant
from tenants.models import Tenant
from tenants.scoping import TenantScopedQuerysetMixin


class TenantScopedViewSet(TenantScopedQuerysetMixin, GenericViewSet):  # type: ignore[type-arg]
    """Base of every tenant-owned API resource. The tenant comes from the API key, once per request.

    Subclasses set `model` and, when they need joins or filters, override `tenant_queryset(tenant=...)`
    (usually by calling a selector). Overriding `get_queryset` is refused at import time.
    """

    def get_tenant(self) -> Tenant:
        return request_tenant(self.request)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if isinstance(getattr(self.request, "user", None), ApiClient):
            context["tenant"] = self.get_tenant()
        return context
