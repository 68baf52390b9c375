from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bots.api.serializers import (
    BotSerializer,
    GroupMeConnectionSerializer,
    GroupMeGroupListSerializer,
    GroupMeGroupSerializer,
    InteractionSerializer,
    RuleSerializer,
)
from bots.models import Bot, Interaction, Rule
from bots.selectors import bot_get, bot_list, groupme_connection_get, interaction_list, rule_list
from bots.services import (
    GroupMeUnavailable,
    bot_breaker_reset,
    bot_create,
    bot_delete,
    bot_update,
    groupme_connection_set,
    groupme_groups,
    rule_create,
    rule_delete,
    rule_update,
)
from tenants.api.authentication import request_tenant
from tenants.api.base import TenantScopedViewSet
from tenants.api.filters import ReportDateTimeFilter, StrictBooleanFilter
from tenants.api.pagination import NewestFirstCursorPagination
from tenants.api.serializers import ApiErrorSerializer
from tenants.models import Tenant


class GroupMeDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "GroupMe did not answer. Nothing was changed; try again in a moment."
    default_code = "groupme_unavailable"


@contextmanager
def groupme_errors() -> Iterator[None]:
    try:
        yield
    except GroupMeUnavailable as exc:
        raise GroupMeDown() from exc


# Creating and deleting a bot registers and destroys it at GroupMe, which may be down.
@extend_schema_view(destroy=extend_schema(responses={204: None, 503: ApiErrorSerializer}))
class BotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet):
    model = Bot
    serializer_class = BotSerializer

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return bot_list(tenant=tenant)

    @extend_schema(responses={201: BotSerializer, 503: ApiErrorSerializer})
    def create(self, request: Request) -> Response:
        payload = BotSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with groupme_errors():
            bot = bot_create(tenant=self.get_tenant(), **payload.to_service_fields())
        return Response(BotSerializer(bot).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        bot = self.get_object()
        payload = BotSerializer(bot, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        fields = payload.to_service_fields()
        if fields.pop("groupme_group_id", bot.group.groupme_group_id) != bot.group.groupme_group_id:
            raise ValidationError({"groupme_group_id": "A bot belongs to one group; create another bot instead."})
        fields.pop("avatar_url", None)
        return Response(BotSerializer(bot_update(bot=bot, **fields)).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance: Bot) -> None:
        with groupme_errors():
            bot_delete(bot=instance)

    @extend_schema(request=None, responses={200: BotSerializer})
    @action(detail=True, methods=["post"], url_path="reset-breaker")
    def reset_breaker(self, request: Request, pk: str) -> Response:
        return Response(BotSerializer(bot_breaker_reset(bot=self.get_object())).data)


class RuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet):
    """Rules of one bot: /bots/{bot_pk}/rules/. Another tenant's bot is a 404, for the list too."""

    model = Rule
    serializer_class = RuleSerializer
    bot: Bot

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        bot = bot_get(tenant=self.get_tenant(), bot_id=kwargs["bot_pk"])
        if bot is None:
            raise Http404
        self.bot = bot

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return rule_list(tenant=tenant, bot=self.bot)

    def create(self, request: Request, bot_pk: str) -> Response:
        payload = self.get_serializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rule = rule_create(bot=self.bot, **payload.validated_data)
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, bot_pk: str, pk: str, partial: bool = False) -> Response:
        rule = self.get_object()
        payload = self.get_serializer(rule, data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        return Response(RuleSerializer(rule_update(rule=rule, **payload.validated_data)).data)

    def partial_update(self, request: Request, bot_pk: str, pk: str) -> Response:
        return self.update(request, bot_pk, pk, partial=True)

    def perform_destroy(self, instance: Rule) -> None:
        rule_delete(rule=instance)


class InteractionFilter(django_filters.FilterSet):
    bot = django_filters.UUIDFilter(field_name="bot_id")
    group = django_filters.UUIDFilter(field_name="group_id")
    intent = django_filters.CharFilter()
    since = ReportDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = ReportDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    reply_status = django_filters.ChoiceFilter(choices=Interaction.ReplyStatus.choices)
    handled = StrictBooleanFilter()

    class Meta:
        model = Interaction
        fields = ["bot", "group", "intent", "since", "until", "reply_status", "handled"]


class OccurredCursorPagination(NewestFirstCursorPagination):
    ordering = "-occurred_at"


class InteractionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    model = Interaction
    serializer_class = InteractionSerializer
    filterset_class = InteractionFilter
    pagination_class = OccurredCursorPagination

    def tenant_queryset(self, *, tenant: Tenant) -> QuerySet[Any]:
        return interaction_list(tenant=tenant).prefetch_related("reply_parts")


class GroupMeConnectionView(APIView):
    """The tenant's GroupMe access token: PUT stores it (after GroupMe accepts it), DELETE forgets it."""

    @staticmethod
    def _state(tenant: Tenant) -> dict[str, Any]:
        connection = groupme_connection_get(tenant=tenant)
        return {"connected": connection is not None, "connected_at": connection.created_at if connection else None}

    @extend_schema(responses={200: GroupMeConnectionSerializer})
    def get(self, request: Request) -> Response:
        return Response(GroupMeConnectionSerializer(self._state(request_tenant(request))).data)

    @extend_schema(
        request=GroupMeConnectionSerializer, responses={200: GroupMeConnectionSerializer, 503: ApiErrorSerializer}
    )
    def put(self, request: Request) -> Response:
        payload = GroupMeConnectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tenant = request_tenant(request)
        with groupme_errors():
            groupme_connection_set(tenant=tenant, access_token=payload.validated_data["access_token"])
        return Response(GroupMeConnectionSerializer(self._state(tenant)).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        connection = groupme_connection_get(tenant=request_tenant(request))
        if connection is not None:
            connection.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupMeGroupsView(APIView):
    """The groups the connected GroupMe account belongs to: where a bot can be created (400 until a GroupMe access
    token is connected)."""

    @extend_schema(responses={200: GroupMeGroupListSerializer, 400: ApiErrorSerializer, 503: ApiErrorSerializer})
    def get(self, request: Request) -> Response:
        with groupme_errors():
            groups = groupme_groups(tenant=request_tenant(request))
        return Response({"results": GroupMeGroupSerializer(groups, many=True).data})
