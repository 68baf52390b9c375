"""The guard that makes an unscoped tenant query impossible to write by accident in a view.

Views that list or fetch tenant-owned rows inherit `TenantScopedQuerysetMixin`: they may not override
`get_queryset`, they implement `tenant_queryset(tenant=...)` instead, and whatever that returns must have been
scoped with `.for_tenant(<the request's tenant>)`, or the request fails loudly instead of leaking rows.
"""

from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from tenants.models import Tenant, TenantOwnedModel, TenantQuerySet


class UnscopedQuerysetError(ImproperlyConfigured):
    pass


def ensure_scoped(queryset: QuerySet[Any], *, tenant: Tenant) -> QuerySet[Any]:
    if not isinstance(queryset, TenantQuerySet) or queryset.scoped_tenant_id != tenant.pk:
        raise UnscopedQuerysetError(
            f"{queryset.model.__name__} queryset is not scoped to tenant {tenant.slug}; use .for_tenant(tenant)."
        )
    return queryset


class TenantScopedQuerysetMixin:
    model: ClassVar[type[TenantOwnedModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must implement tenant_queryset(tenant=...), not get_queryset().")

    def get_tenant(self) -> Tenant:
        raise NotImplementedError

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return self.model.objects.for_tenant(tenant)

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no request, no tenant, no rows
            return self.model.objects.none()
        tenant = self.get_tenant()
        return ensure_scoped(self.tenant_queryset(tenant=tenant), tenant=tenant)
