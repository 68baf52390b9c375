from datetime import datetime
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from bots.models import Bot, GroupMeConnection, Interaction, ReplyPart, Rule
from tenants.models import Tenant
from tenants.url_tokens import url_token_hash, url_token_plausible


def bot_get_by_callback_token(*, token: str) -> Bot | None:
    """The active bot whose callback URL carries `token`. Not scoped by tenant: the token is what names the bot."""
    if not url_token_plausible(token):
        return None
    # Only what ingest reads: loading the encrypted fields would decrypt two secrets per callback for nothing.
    return (
        Bot.objects.select_related("group")
        .only("id", "tenant_id", "group__id", "group__groupme_group_id", "command_prefix", "optin_command")
        .filter(callback_token_hash=url_token_hash(token), is_active=True, deleted_at__isnull=True)
        .first()
    )


def bot_list(*, tenant: Tenant) -> QuerySet[Bot]:
    return Bot.objects.for_tenant(tenant).filter(deleted_at__isnull=True).select_related("group")


def bot_get(*, tenant: Tenant, bot_id: str | UUID) -> Bot | None:
    try:
        return bot_list(tenant=tenant).filter(pk=bot_id).first()
    except (ValueError, ValidationError):  # a malformed id is simply not found
        return None


def bot_get_with_history(*, tenant: Tenant, bot_id: str | UUID) -> Bot | None:
    """A bot of the tenant, deleted ones included: their history stays in the figures and can be filtered on."""
    try:
        return Bot.objects.for_tenant(tenant).filter(pk=bot_id).first()
    except (ValueError, ValidationError):
        return None


def rule_list(*, tenant: Tenant, bot: Bot) -> QuerySet[Rule]:
    return Rule.objects.for_tenant(tenant).filter(bot=bot)


def rules_for_matching(*, bot: Bot) -> list[Rule]:
    return list(Rule.objects.filter(bot=bot, is_active=True).select_related("link").order_by("priority", "created_at"))


def interaction_list(*, tenant: Tenant) -> QuerySet[Interaction]:
    return Interaction.objects.for_tenant(tenant).select_related("rule").order_by("-occurred_at", "-id")


def groupme_connection_get(*, tenant: Tenant) -> GroupMeConnection | None:
    return GroupMeConnection.objects.for_tenant(tenant).first()


def bot_recent_reply_texts(*, bot: Bot, since: datetime, until: datetime) -> list[str]:
    """What the bot posted (or is posting) in answer to messages sent between `since` and `until`."""
    return list(
        ReplyPart.objects.filter(
            interaction__bot=bot, interaction__occurred_at__gte=since, interaction__occurred_at__lte=until
        )
        .exclude(status=ReplyPart.Status.FAILED)
        .values_list("text", flat=True)
    )
