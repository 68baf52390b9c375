from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from bots.models import Bot, Interaction, ReplyPart, Rule
from monetization.models import Link
from tenants.api.fields import TenantScopedRelatedField


class LoopBreakerSerializer(serializers.Serializer[Bot]):
    open_until = serializers.DateTimeField(source="breaker_open_until", allow_null=True)
    is_open = serializers.BooleanField(source="is_breaker_open")
    trips = serializers.IntegerField(source="breaker_trips")
    last_reason = serializers.CharField(source="breaker_last_reason")


class BotSerializer(serializers.ModelSerializer[Bot]):
    groupme_group_id = serializers.CharField(source="group.groupme_group_id", max_length=64)
    groupme_bot_id = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=64)
    avatar_url = serializers.URLField(write_only=True, required=False, allow_blank=True)
    group = serializers.UUIDField(source="group_id", read_only=True)
    provisioned = serializers.SerializerMethodField()
    loop_breaker = LoopBreakerSerializer(source="*", read_only=True)

    class Meta:
        model = Bot
        fields = [
            "id", "name", "groupme_group_id", "groupme_bot_id", "avatar_url", "group", "callback_url",
            "command_prefix", "fallback_text", "optout_command", "optin_command", "is_active", "provisioned",
            "loop_breaker", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "callback_url", "created_at"]

    def get_provisioned(self, bot: Bot) -> bool:
        return bot.provisioned_at is not None

    def to_service_fields(self) -> dict[str, Any]:
        """validated_data flattened into the keyword arguments of bot_create / bot_update."""
        data = dict(self.validated_data)
        group = data.pop("group", None)
        if group is not None:
            data["groupme_group_id"] = group["groupme_group_id"]
        return data


class RuleSerializer(serializers.ModelSerializer[Rule]):
    link = TenantScopedRelatedField(Link, allow_null=True, required=False)

    class Meta:
        model = Rule
        fields = ["id", "bot", "name", "kind", "pattern", "response", "intent", "priority", "link", "is_active",
                  "created_at"]  # fmt: skip
        read_only_fields = ["id", "bot", "created_at"]


class ReplyPartSerializer(serializers.ModelSerializer[ReplyPart]):
    class Meta:
        model = ReplyPart
        fields = ["sequence", "text", "status", "attempts", "last_status_code", "last_error", "accepted_at"]
        read_only_fields = fields


class InteractionSerializer(serializers.ModelSerializer[Interaction]):
    reply_parts = ReplyPartSerializer(many=True, read_only=True)

    class Meta:
        model = Interaction
        fields = [
            "id", "bot", "group", "member", "message_text", "intent", "sentiment", "rule", "handled", "reply_text",
            "reply_status", "response_time_ms", "reply_parts", "occurred_at", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class GroupMeConnectionSerializer(serializers.Serializer[dict[str, Any]]):
    # The token travels in an HTTP header to GroupMe: anything but visible ASCII cannot be sent there (it was a 500).
    access_token = serializers.CharField(
        write_only=True,
        max_length=255,
        validators=[RegexValidator(r"^[!-~]+\Z", "A GroupMe access token: letters, digits and punctuation only.")],
    )
    connected = serializers.BooleanField(read_only=True)
    connected_at = serializers.DateTimeField(read_only=True, allow_null=True)


class GroupMeGroupSerializer(serializers.Serializer[Any]):
    group_id = serializers.CharField()
    name = serializers.CharField()
    member_count = serializers.IntegerField()


class GroupMeGroupListSerializer(serializers.Serializer[Any]):
    results = GroupMeGroupSerializer(many=True)
