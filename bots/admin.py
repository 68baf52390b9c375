from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from bots.models import Bot, GroupMeConnection, Interaction, ReplyPart, Rule
from bots.services import bot_breaker_reset


class RuleInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Rule
    extra = 0
    fields = ["name", "kind", "pattern", "response", "intent", "priority", "is_active"]


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "tenant", "group", "is_active", "provisioned_at", "breaker_open_until", "breaker_trips",
                    "deleted_at"]  # fmt: skip
    list_filter = [
        "is_active",
        ("deleted_at", admin.EmptyFieldListFilter),
        ("provisioned_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["name", "tenant__name", "tenant__slug", "group__name", "group__groupme_group_id"]
    list_select_related = ["tenant", "group"]
    raw_id_fields = ["group"]
    readonly_fields = ["callback_url", "provisioned_at", "breaker_trips", "breaker_last_reason", "deleted_at",
                       "created_at"]  # fmt: skip
    exclude = ["groupme_bot_id", "callback_token", "callback_token_hash"]
    inlines = [RuleInline]
    actions = ["reset_breaker"]

    @admin.action(description="Close the loop breaker of the selected bots")
    def reset_breaker(self, request: HttpRequest, queryset: QuerySet[Bot]) -> None:
        for bot in queryset:
            bot_breaker_reset(bot=bot)
        self.message_user(request, f"Reset {queryset.count()} bot(s).", messages.SUCCESS)


class ReplyPartInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ReplyPart
    extra = 0
    can_delete = False
    readonly_fields = ("sequence", "text", "status", "attempts", "last_status_code", "last_error", "accepted_at")
    fields = readonly_fields


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["occurred_at", "bot", "intent", "handled", "sentiment", "reply_status", "response_time_ms",
                    "tenant"]  # fmt: skip
    list_filter = ["reply_status", "handled"]
    search_fields = ["intent", "bot__name", "tenant__slug"]
    list_select_related = ["bot", "tenant"]
    raw_id_fields = ["bot", "group", "member", "message", "rule"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    inlines = [ReplyPartInline]


@admin.register(GroupMeConnection)
class GroupMeConnectionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["tenant", "connected_by", "created_at"]
    list_select_related = ["tenant", "connected_by"]
    exclude = ["access_token"]
    readonly_fields = ["tenant", "connected_by", "created_at"]
