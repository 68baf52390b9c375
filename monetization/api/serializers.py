from typing import Any

from django.conf import settings
from rest_framework import serializers

from bots.models import Interaction
from monetization.models import Conversion, Link, MonetizationSource
from tenants.api.fields import TenantScopedRelatedField


class MonetizationSourceSerializer(serializers.ModelSerializer[MonetizationSource]):
    webhook_url = serializers.SerializerMethodField()

    class Meta:
        model = MonetizationSource
        fields = ["id", "name", "kind", "details", "is_active", "attribution_window_days", "postback_url",
                  "webhook_url", "created_at"]  # fmt: skip
        read_only_fields = ["id", "postback_url", "webhook_url", "created_at"]

    def get_webhook_url(self, source: MonetizationSource) -> str | None:
        """Signed payment webhooks are for subscription and donation sources."""
        return source.webhook_url if source.webhook_secret else None

    def validate_details(self, value: Any) -> Any:
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object.")
        return value


class MonetizationSourceSecretSerializer(MonetizationSourceSerializer):
    """The source as created: the only response that carries the webhook signing secret."""

    webhook_secret = serializers.CharField(read_only=True, allow_null=True)

    class Meta(MonetizationSourceSerializer.Meta):
        fields = [*MonetizationSourceSerializer.Meta.fields, "webhook_secret"]


class LinkSerializer(serializers.ModelSerializer[Link]):
    source = TenantScopedRelatedField(MonetizationSource, allow_null=True, required=False)  # type: ignore[assignment]
    clicks = serializers.IntegerField(read_only=True, source="human_clicks", default=0)
    short_url = serializers.SerializerMethodField()

    class Meta:
        model = Link
        fields = ["id", "code", "name", "destination_url", "click_param", "source", "clicks", "short_url",
                  "created_at"]  # fmt: skip
        read_only_fields = ["id", "code", "clicks", "short_url", "created_at"]

    def get_short_url(self, link: Link) -> str:
        return f"{settings.PUBLIC_BASE_URL}/l/{link.code}"


class ConversionSerializer(serializers.ModelSerializer[Conversion]):
    source = serializers.UUIDField(source="source_id", read_only=True)  # type: ignore[assignment]
    interaction = serializers.UUIDField(source="interaction_id", read_only=True, allow_null=True)

    class Meta:
        model = Conversion
        fields = ["id", "source", "interaction", "click_id", "outcome", "amount", "currency", "external_id",
                  "occurred_at", "via", "attribution", "created_at"]  # fmt: skip
        read_only_fields = fields


class ConversionCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """What an integrator reports. Amounts, currencies and outcomes are checked by the same rules as postbacks."""

    source = TenantScopedRelatedField(MonetizationSource)  # type: ignore[assignment]
    interaction = TenantScopedRelatedField(Interaction, allow_null=True, required=False)
    outcome = serializers.CharField(max_length=12)
    amount = serializers.IntegerField(required=False, default=0)
    currency = serializers.CharField(max_length=3)
    external_id = serializers.CharField(max_length=255)
    click_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
