from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import TenantOwnedModel


@extend_schema_field(OpenApiTypes.UUID)
class TenantScopedRelatedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A foreign key by id that only sees the request tenant's rows: another tenant's id reads as "does not exist",
    the same answer as an id that never existed. The viewset puts the tenant in the serializer context."""

    def __init__(self, model: type[TenantOwnedModel], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        tenant = self.context.get("tenant")
        if tenant is None:
            return self.model.objects.none()
        return self.model.objects.for_tenant(tenant)

    def to_representation(self, value: Any) -> Any:
        return str(value.pk)
