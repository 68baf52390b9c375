from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.health import BotHealth, bot_health
from analytics.models import BotHealthCondition
from bots.selectors import bot_get
from tenants.api.authentication import request_tenant
from tenants.api.serializers import ApiErrorSerializer


class BotHealthConditionSerializer(serializers.Serializer[object]):
    code = serializers.ChoiceField(choices=BotHealthCondition.choices)
    severity = serializers.ChoiceField(choices=["warning", "critical"])
    detail = serializers.CharField()


class BotHealthCallbacksSerializer(serializers.Serializer[BotHealth]):
    last_callback_at = serializers.DateTimeField(allow_null=True)
    gap_seconds = serializers.IntegerField(source="callback_gap_seconds")
    group_messages_7d = serializers.IntegerField()
    usual_gap_seconds = serializers.IntegerField(allow_null=True)
    expected_messages_in_gap = serializers.FloatField(
        allow_null=True, help_text="What the group usually sends at these hours of the day; null: too little history."
    )


class BotHealthRepliesSerializer(serializers.Serializer[BotHealth]):
    finished = serializers.IntegerField(source="replies_finished")
    failed = serializers.IntegerField(source="replies_failed")
    error_rate = serializers.FloatField(allow_null=True)
    attempted = serializers.IntegerField(source="replies_attempted")
    rate_limited = serializers.IntegerField(source="replies_rate_limited")
    rate_limited_rate = serializers.FloatField(allow_null=True)


class BotHealthRecentRepliesSerializer(serializers.Serializer[BotHealth]):
    count = serializers.IntegerField(source="recent_replies")
    rejected = serializers.IntegerField(source="recent_replies_rejected", help_text="Rejected by GroupMe (400/404).")


class BotHealthLoopBreakerSerializer(serializers.Serializer[BotHealth]):
    is_open = serializers.BooleanField(source="breaker_open")
    open_until = serializers.DateTimeField(source="breaker_open_until", allow_null=True)
    trips = serializers.IntegerField(source="breaker_trips")
    last_reason = serializers.CharField(source="breaker_last_reason")


class BotHealthSerializer(serializers.Serializer[BotHealth]):
    bot = serializers.UUIDField(source="bot.pk")
    name = serializers.CharField(source="bot.name")
    is_active = serializers.BooleanField(source="bot.is_active")
    status = serializers.ChoiceField(choices=["ok", "warning", "critical"])
    conditions = BotHealthConditionSerializer(many=True)
    callbacks = BotHealthCallbacksSerializer(source="*", help_text="Callbacks GroupMe delivered.")
    replies = BotHealthRepliesSerializer(source="*", help_text="Reply posts of the last 24 hours.")
    recent_replies = BotHealthRecentRepliesSerializer(source="*", help_text="The bot's last 5 finished replies.")
    loop_breaker = BotHealthLoopBreakerSerializer(source="*")


class BotHealthListSerializer(serializers.Serializer[object]):
    results = BotHealthSerializer(many=True)


class BotHealthView(APIView):
    """Each bot's health: callbacks heard against its group's usual rate, reply errors and 429s, loop breaker."""

    @extend_schema(
        operation_id="bot_health_list",
        parameters=[OpenApiParameter("bot", OpenApiTypes.UUID, description="Only this bot (404 if there is none).")],
        responses={200: BotHealthListSerializer, 404: ApiErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        tenant = request_tenant(request)
        bots = None
        if request.query_params.get("bot"):
            bot = bot_get(tenant=tenant, bot_id=request.query_params["bot"])
            if bot is None:
                raise NotFound("No such bot.")
            bots = [bot]
        return Response(BotHealthListSerializer({"results": bot_health(tenant=tenant, bots=bots)}).data)
