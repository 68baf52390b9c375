from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import mixins

from groups.api.serializers import GroupSerializer, MemberSerializer
from groups.models import Group, Member
from groups.selectors import group_list, member_list
from tenants.api.base import TenantScopedViewSet
from tenants.api.filters import StrictBooleanFilter
from tenants.models import Tenant


class GroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    model = Group
    serializer_class = GroupSerializer

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return group_list(tenant=tenant)


class MemberFilter(django_filters.FilterSet):
    group = django_filters.UUIDFilter(field_name="group_id")
    opted_out = StrictBooleanFilter(field_name="opted_out_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Member
        fields = ["group", "opted_out"]


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    model = Member
    serializer_class = MemberSerializer
    filterset_class = MemberFilter

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return member_list(tenant=tenant)
