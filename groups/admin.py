from django.contrib import admin

from groups.models import Group, Member, Message


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "groupme_group_id", "tenant", "member_count", "message_count", "last_message_at"]
    search_fields = ["name", "groupme_group_id", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["member_count", "message_count", "last_message_at", "created_at"]


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["nickname", "groupme_user_id", "group", "tenant", "message_count", "engagement_score",
                    "is_present", "opted_out_at", "last_seen_at"]  # fmt: skip
    list_filter = ["is_present", ("opted_out_at", admin.EmptyFieldListFilter)]
    search_fields = ["nickname", "groupme_user_id", "group__name", "tenant__slug"]
    list_select_related = ["group", "tenant"]
    raw_id_fields = ["group"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["sent_at", "sender_name", "sender_type", "group", "tenant", "processed_at"]
    list_filter = ["sender_type", "is_system", ("processed_at", admin.EmptyFieldListFilter)]
    search_fields = ["groupme_message_id", "sender_name", "group__name", "tenant__slug"]
    list_select_related = ["group", "tenant"]
    raw_id_fields = ["group", "member", "bot"]
    date_hierarchy = "sent_at"
    show_full_result_count = False  # COUNT(*) over millions of messages on every page is not worth it
