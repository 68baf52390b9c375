from rest_framework import serializers

from groups.models import Group, Member


class GroupSerializer(serializers.ModelSerializer[Group]):
    class Meta:
        model = Group
        fields = ["id", "groupme_group_id", "name", "member_count", "message_count", "last_message_at", "created_at"]
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer[Member]):
    opted_out = serializers.BooleanField(source="is_opted_out", read_only=True)

    class Meta:
        model = Member
        fields = [
            "id", "group", "groupme_user_id", "nickname", "message_count", "engagement_score", "first_seen_at",
            "last_seen_at", "is_present", "opted_out",
        ]  # fmt: skip
        read_only_fields = fields
