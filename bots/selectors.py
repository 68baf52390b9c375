from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from time import monotonic
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.utils import timezone

from bots.matching import command_word, rule_first_match
from bots.models import Bot, GroupMeConnection, Interaction, ReplyPart, Rule
from bots.replies import reply_render, reply_split
from groups.models import Message
from monetization.models import Link
from tenants.models import ApiKey, Tenant
from tenants.selectors import api_key_list
from tenants.url_tokens import url_token_hash, url_token_plausible


@dataclass(frozen=True)
class CallbackBot:
    """What ingest needs of the bot a callback URL names: no secrets, nothing that changes while the bot lives."""

    id: UUID
    tenant_id: UUID
    group_id: UUID
    groupme_group_id: str
    command_prefix: str


# Per process: token hash -> (monotonic expiry, bot). GroupMe calls one URL many times a minute and the row almost
# never changes, so the lookup is a dict read for nearly every callback. Deactivating or deleting a bot takes effect
# within BOTS_CALLBACK_CACHE_SECONDS (no cross-process invalidation); what slips through in that window is stored
# and counted but never answered, because processing checks the bot again. Unknown tokens are not cached: a bot
# created a moment ago is found at once, and junk tokens cannot fill the memory.
_callback_bots: dict[str, tuple[float, CallbackBot]] = {}
CALLBACK_CACHE_MAX_ENTRIES = 10_000


def bot_get_by_callback_token(*, token: str) -> CallbackBot | None:
    """The active bot whose callback URL carries `token`. Not scoped by tenant: the token is what names the bot."""
    if not url_token_plausible(token):
        return None
    token_hash = url_token_hash(token)
    now = monotonic()
    cached = _callback_bots.get(token_hash)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = (
        Bot.objects.filter(callback_token_hash=token_hash, is_active=True, deleted_at__isnull=True)
        .values_list("id", "tenant_id", "group_id", "group__groupme_group_id", "command_prefix")
        .first()
    )
    if row is None:
        _callback_bots.pop(token_hash, None)
        return None
    bot = CallbackBot(*row)
    lifetime = settings.BOTS_CALLBACK_CACHE_SECONDS
    if lifetime > 0:
        if len(_callback_bots) >= CALLBACK_CACHE_MAX_ENTRIES:
            _callback_bots.clear()  # crude but bounded; a real deployment has far fewer bots per process
        _callback_bots[token_hash] = (now + lifetime, bot)
    return bot


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


# --- Dashboard reads -------------------------------------------------------------------------------------------------


# How long before a post became uncertain it may have been made (the client's read timeout, and margin).
ECHO_LOOKBACK = timedelta(seconds=30)


def bot_post_echoed_at(*, tenant_id: Any, group_id: Any, text: str, since: datetime) -> datetime | None:
    """When GroupMe delivered `text` back from a bot of the group (GroupMe sends a bot's own posts to its callback),
    at or after a post made at `since` that got no answer; None when it has not (yet). This is how a post that may
    or may not have reached GroupMe is settled without posting it twice."""
    return (
        Message.objects.filter(
            tenant_id=tenant_id, group_id=group_id, sender_type=Message.SenderType.BOT,
            sent_at__gte=since - ECHO_LOOKBACK, text=text,
        )
        .order_by("sent_at")
        .values_list("received_at", flat=True)
        .first()
    )  # fmt: skip


def bot_list_with_rule_counts(*, tenant: Tenant) -> QuerySet[Bot]:
    """The bots list: each bot with its group (for the last message time) and its number of rules, in one query."""
    return bot_list(tenant=tenant).annotate(rule_count=Count("rules")).order_by("name", "created_at")


def rule_link_choices(*, tenant: Tenant) -> QuerySet[Link]:
    """The links a rule may point to. Not monetization's link_list: that counts every link's clicks, which a
    choice list does not need and which grows with the clicks table."""
    return Link.objects.for_tenant(tenant).only("id", "name", "destination_url", "code").order_by("name", "created_at")


class PreviewOutcome(StrEnum):
    RULE = "rule"  # a rule matched: its reply
    FALLBACK = "fallback"  # the command prefix and a word no rule knows: the bot's fallback reply
    OPTOUT = "optout"  # the bot's opt-out command
    OPTIN = "optin"  # the bot's opt-in command
    IGNORED = "ignored"  # ordinary chatter: counted, not answered


PREVIEW_SENDER_NAME = "Sam"
PREVIEW_LINK_PATH = "/l/xxxxxxxx"  # stands for the short URL each interaction gets (8 characters, like the real ones)


@dataclass(frozen=True)
class ReplyPreview:
    """What the bot would do with one message, computed without sending or storing anything."""

    text: str
    outcome: PreviewOutcome
    rule: Rule | None
    intent: str
    reply_text: str
    reply_parts: list[str]
    sender_name: str
    # Why nothing would be posted although the message would be answered (paused bot, open loop breaker).
    quiet_reason: str = ""

    @property
    def is_interaction(self) -> bool:
        return self.outcome != PreviewOutcome.IGNORED

    @property
    def sends_reply(self) -> bool:
        return bool(self.reply_parts) and not self.quiet_reason


def reply_preview(*, tenant: Tenant, bot: Bot, text: str, sender_name: str = PREVIEW_SENDER_NAME) -> ReplyPreview:
    """Which rule answers `text` from a member who has not opted out, and the exact reply text.

    Follows the decisions of message processing (bots.services._interaction_for) in the same order: the opt-out
    and opt-in commands first (in the tenant's wording), then the first active rule by priority (bots.matching, on
    the same rules the worker loads), then the fallback for an unknown command. {link} shows a placeholder short
    URL. A sponsored line, when one is live in the group, is added at send time and is not shown here.
    """
    if bot.tenant_id != tenant.pk:
        raise ValueError("the bot belongs to another tenant")
    command = command_word(text, command_prefix=bot.command_prefix)
    optin, optout = f"{bot.command_prefix}{bot.optin_command}", f"{bot.command_prefix}{bot.optout_command}"
    rule: Rule | None = None
    if command == bot.optout_command:
        reply = tenant.optout_reply_for(name=sender_name, optin_command=optin)
        outcome, intent = PreviewOutcome.OPTOUT, "optout"
    elif command == bot.optin_command:
        reply = tenant.optin_reply_for(name=sender_name, optout_command=optout)
        outcome, intent = PreviewOutcome.OPTIN, "optin"
    else:
        rule = rule_first_match(rules_for_matching(bot=bot), text=text, command_prefix=bot.command_prefix)
        if rule is not None:
            link = f"{settings.PUBLIC_BASE_URL}{PREVIEW_LINK_PATH}" if rule.link_id else ""
            outcome, intent, reply = (
                PreviewOutcome.RULE,
                rule.intent,
                reply_render(rule.response, name=sender_name, link=link),
            )
        elif command is not None:
            outcome, intent, reply = PreviewOutcome.FALLBACK, "", reply_render(bot.fallback_text, name=sender_name)
        else:
            outcome, intent, reply = PreviewOutcome.IGNORED, "", ""
    quiet_reason = ""
    if outcome != PreviewOutcome.IGNORED:
        if not bot.is_active:
            quiet_reason = "The bot is paused: it counts messages but answers nothing until it is resumed."
        elif bot.is_breaker_open:
            quiet_reason = "The loop breaker is open: the interaction would be recorded without a reply."
    return ReplyPreview(
        text=text, outcome=outcome, rule=rule, intent=intent, reply_text=reply, reply_parts=reply_split(reply),
        sender_name=sender_name, quiet_reason=quiet_reason,
    )  # fmt: skip


def bot_first_message(*, tenant: Tenant) -> Message | None:
    """The first message any of the tenant's bots received (onboarding's "waiting for the first message")."""
    return (
        Message.objects.for_tenant(tenant)
        .filter(bot__isnull=False)
        .select_related("bot")
        .order_by("received_at", "id")
        .first()
    )


@dataclass(frozen=True)
class OnboardingProgress:
    bot: Bot | None  # the tenant's first bot: the one onboarding follows
    groupme_connected: bool
    first_message: Message | None
    rule_count: int
    active_api_keys: int

    @property
    def has_bot(self) -> bool:
        return self.bot is not None

    @property
    def has_first_message(self) -> bool:
        return self.first_message is not None

    @property
    def has_rule(self) -> bool:
        return self.rule_count > 0

    @property
    def has_api_key(self) -> bool:
        return self.active_api_keys > 0

    @property
    def is_complete(self) -> bool:
        return self.has_bot and self.has_first_message and self.has_rule and self.has_api_key


def onboarding_progress(*, tenant: Tenant) -> OnboardingProgress:
    """Each onboarding step's state from the database, so the checklist can be left and resumed."""
    now = timezone.now()
    return OnboardingProgress(
        bot=bot_list(tenant=tenant).order_by("created_at", "id").first(),
        groupme_connected=GroupMeConnection.objects.for_tenant(tenant).exists(),
        first_message=bot_first_message(tenant=tenant),
        rule_count=Rule.objects.for_tenant(tenant).filter(bot__deleted_at__isnull=True).count(),
        active_api_keys=api_key_list(tenant=tenant).filter(status=ApiKey.Status.ACTIVE, expires_at__gt=now).count(),
    )
