from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tenants.models import ApiKey


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    status = serializers.CharField(source="current_status", read_only=True)
    prefix = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "status"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer[None]):
    name = serializers.CharField(max_length=100)


class IssuedApiKeySerializer(ApiKeySerializer):
    """A key as it is handed out: the only response that ever carries the full secret."""

    key = serializers.CharField(read_only=True)

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


# A field's messages, or for a list or nested object the messages of each item or key ({"0": ["..."]}).
@extend_schema_field(
    {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object", "additionalProperties": True}]}
)
class FieldErrorsField(serializers.JSONField):
    pass


class ApiErrorSerializer(serializers.Serializer[None]):
    """Every error the API answers (tenants/api/errors.py)."""

    code = serializers.CharField(help_text="not_authenticated, not_found, invalid, throttled, ...")
    detail = serializers.CharField()
    # The body's key is `fields`; DRF's metaclass takes declared fields out of the class, so no property is hidden.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=FieldErrorsField(),
        required=False,
        help_text="For invalid requests: each parameter or body field with its messages.",
    )
