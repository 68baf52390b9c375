from typing import Any

from rest_framework import serializers

from groups.models import Group
from monetization.models import Creative, Link, MonetizationSource
from monetization.sponsorship import MAX_PERIOD_DAYS
from tenants.api.dates import ReportDateField
from tenants.api.fields import TenantScopedRelatedField


class CreativeSerializer(serializers.ModelSerializer[Creative]):
    """A sponsor's creative. The source must be one of the tenant's sponsorship sources; groups empty: all groups."""

    source = TenantScopedRelatedField(MonetizationSource)  # type: ignore[assignment]
    link = TenantScopedRelatedField(Link, allow_null=True, required=False)
    groups = TenantScopedRelatedField(Group, many=True, required=False)
    post_times = serializers.ListField(
        child=serializers.CharField(max_length=5),
        required=False,
        help_text='Scheduled mode: "HH:MM" times of day in the tenant\'s time zone.',
    )

    class Meta:
        model = Creative
        fields = ["id", "source", "name", "text", "link", "groups", "mode", "post_times", "starts_at", "ends_at",
                  "daily_cap_per_group", "is_active", "created_at"]  # fmt: skip
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"text": {"allow_blank": False, "trim_whitespace": True}}


class SponsorPerformanceQuerySerializer(serializers.Serializer[Any]):
    start = ReportDateField()
    end = ReportDateField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        if (attrs["end"] - attrs["start"]).days + 1 > MAX_PERIOD_DAYS:
            raise serializers.ValidationError({"end": f"At most {MAX_PERIOD_DAYS} days from start to end."})
        return attrs


class CreativePerformanceSerializer(serializers.Serializer[Any]):
    creative_id = serializers.UUIDField()
    name = serializers.CharField()
    text = serializers.CharField()
    mode = serializers.CharField()
    impressions = serializers.IntegerField(help_text="Sponsored lines sent.")
    reach = serializers.IntegerField(help_text="The groups' member counts at send time, summed.")
    clicks = serializers.IntegerField(help_text="Human clicks on the creative's link.")
    ctr = serializers.FloatField(help_text="clicks / reach; 0 when nothing was sent.")


class SponsorPerformanceRowSerializer(serializers.Serializer[Any]):
    source_id = serializers.UUIDField()
    source_name = serializers.CharField()
    impressions = serializers.IntegerField()
    reach = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField()
    revenue = serializers.DictField(
        child=serializers.IntegerField(), help_text="Currency → net minor units of the source's conversions."
    )
    creatives = CreativePerformanceSerializer(many=True)


class SponsorPerformanceSerializer(serializers.Serializer[Any]):
    start = serializers.DateField()
    end = serializers.DateField()
    rows = SponsorPerformanceRowSerializer(many=True)
