"""Writes of the bot runtime: ingest a callback, process a message, send a reply; bots, rules and provisioning."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg.types.json import Jsonb

from bots import groupme
from bots.callbacks import CallbackMessage
from bots.matching import command_word, regex_validate, rule_first_match
from bots.models import Bot, GroupMeConnection, Interaction, ReplyPart, Rule
from bots.outbox import ECHO_WAIT
from bots.replies import reply_render, reply_split
from bots.selectors import (
    CallbackBot,
    bot_post_echoed_at,
    bot_recent_reply_texts,
    groupme_connection_get,
    rules_for_matching,
)
from bots.sentiment import sentiment_score
from groups.models import Member, Message
from groups.selectors import member_is_opted_out
from groups.services import (
    group_get_or_create,
    group_record_message,
    member_opt_in,
    member_opt_out,
    member_record_message,
    membership_event_apply,
    message_insert_once,
    message_text_expire,
)
from monetization.services import interaction_link_url
from monetization.sponsorship import sponsored_line_for_reply, sponsored_lines_not_shown
from tenants.ids import uuid7
from tenants.models import Tenant, User
from tenants.url_tokens import url_token_hash, url_token_new

logger = logging.getLogger("botyard.bots")

# The loop breaker: a user message that repeats one of the bot's replies of the last minute, or more replies in a
# minute than BOTS_LOOP_MAX_REPLIES_PER_MINUTE, means the bot is talking to itself (through a relay or another
# bot); it goes quiet for a while. Minutes are the group's (messages' sent times), so a replay of history or a
# backlog drained after an outage is judged by when people wrote, not by how fast the worker catches up.
LOOP_WINDOW = timedelta(seconds=60)
BREAKER_COOLDOWN = timedelta(minutes=10)


# --- Ingest ----------------------------------------------------------------------------------------------------------


def message_ingest(*, bot: CallbackBot, callback: CallbackMessage, received_at: datetime) -> UUID | None:
    """Stores the callback's message once and wakes a worker; its id, or None when GroupMe already delivered it.

    The unique (group, GroupMe id) constraint decides: of two concurrent deliveries, one insert wins and the other
    finds the conflict, without a lock or a prior read. The stored row is the outbox entry (`processed_at` null):
    the wake-up after it may be lost (broker down, process killed) and the sweeper still finds the message.
    """
    text = callback.text
    # An opted-out member's chatter is never stored. A command is kept only until it is answered (processing
    # redacts it), so opted-out members can still use the bot, and opt back in: only chatter needs the check.
    check_opt_out = bool(
        callback.is_from_user and text and command_word(text, command_prefix=bot.command_prefix) is None
    )
    message_id = uuid7()
    if connection.vendor == "postgresql":
        stored = _message_insert_postgresql(
            message_id=message_id, bot=bot, callback=callback, received_at=received_at, check_opt_out=check_opt_out
        )
    else:
        if check_opt_out and _sender_opted_out(bot=bot, callback=callback):
            text = None
        stored = message_insert_once(message=_message_row(message_id=message_id, bot=bot, callback=callback,
                                                          text=text, received_at=received_at))  # fmt: skip
    if not stored:
        logger.info("callback duplicate", extra={"bot": str(bot.id), "groupme_message_id": callback.message_id})
        return None
    transaction.on_commit(lambda: _enqueue_processing(tenant_id=bot.tenant_id, message_id=message_id))
    return message_id


def _sender_opted_out(*, bot: CallbackBot, callback: CallbackMessage) -> bool:
    return member_is_opted_out(group_id=bot.group_id, groupme_user_id=callback.user_id or callback.sender_id)


def _message_row(
    *, message_id: UUID, bot: CallbackBot, callback: CallbackMessage, text: str | None, received_at: datetime
) -> Message:
    return Message(
        id=message_id,
        tenant_id=bot.tenant_id,
        created_at=received_at,
        group_id=bot.group_id,
        bot_id=bot.id,
        groupme_message_id=callback.message_id,
        sender_type=callback.sender_type,
        sender_id=callback.user_id or callback.sender_id,
        sender_name=callback.name,
        text=text,
        attachments=callback.attachments if text is not None else [],
        is_system=callback.system or callback.sender_type == "system",
        event=callback.event,
        sent_at=callback.sent_at,
        received_at=received_at,
    )


# The whole ingest write on PostgreSQL in one statement and one round trip: the opt-out check folded in (text and
# attachments become NULL and [] when the sender opted out), the duplicate decided by the unique constraint. A
# constant text, so it is prepared once per connection and then neither parsed nor planned again. Columns are
# named here rather than read from the model so that the statement is the same string every time; a test checks
# it against the model's columns.
MESSAGE_INSERT_COLUMNS = (
    "id", "tenant_id", "created_at", "group_id", "bot_id", "groupme_message_id", "sender_type", "sender_id",
    "sender_name", "text", "attachments", "is_system", "event", "sent_at", "received_at", "has_interaction",
)  # fmt: skip
_OPTED_OUT = (
    "(%(check_opt_out)s AND EXISTS (SELECT 1 FROM groups_member WHERE group_id = %(group_id)s "
    "AND groupme_user_id = %(member_user_id)s AND opted_out_at IS NOT NULL))"
)
MESSAGE_INSERT_SQL = (
    f"INSERT INTO groups_message ({', '.join(MESSAGE_INSERT_COLUMNS)}) VALUES ("  # noqa: S608 - constant text
    "%(id)s, %(tenant_id)s, %(received_at)s, %(group_id)s, %(bot_id)s, %(groupme_message_id)s, %(sender_type)s, "
    "%(sender_id)s, %(sender_name)s, "
    f"CASE WHEN {_OPTED_OUT} THEN NULL ELSE %(text)s END, "
    f"CASE WHEN {_OPTED_OUT} THEN '[]'::jsonb ELSE %(attachments)s END, "
    "%(is_system)s, %(event)s, %(sent_at)s, %(received_at)s, false"
    ") ON CONFLICT (group_id, groupme_message_id) DO NOTHING RETURNING id"
)


def _message_insert_postgresql(
    *, message_id: UUID, bot: CallbackBot, callback: CallbackMessage, received_at: datetime, check_opt_out: bool
) -> bool:
    """True when this call stored the message, False for a repeat. Through psycopg directly, on Django's connection:
    a server-side-binding cursor can use a prepared statement, which Django's client-side-binding cursor cannot."""
    text = callback.text
    parameters = {
        "id": message_id,
        "tenant_id": bot.tenant_id,
        "group_id": bot.group_id,
        "bot_id": bot.id,
        "groupme_message_id": callback.message_id,
        "sender_type": callback.sender_type,
        "sender_id": callback.user_id or callback.sender_id,
        "sender_name": callback.name,
        "text": text,
        "attachments": Jsonb(callback.attachments if text is not None else []),
        "is_system": callback.system or callback.sender_type == "system",
        "event": Jsonb(callback.event) if callback.event is not None else None,
        "sent_at": callback.sent_at,
        "received_at": received_at,
        "check_opt_out": check_opt_out,
        "member_user_id": callback.user_id or callback.sender_id,  # its own parameter: a varchar there, text here
    }
    started = time.monotonic()
    try:
        stored = _message_insert_execute(parameters)
    except (OperationalError, InterfaceError):
        # Django's per-request health check (a SELECT 1 before the first query) is skipped on this path: a
        # connection that broke since its last use (PostgreSQL restarted) shows up here instead, and the insert is
        # tried once more on a new one. Trying again cannot store the message twice (same row id, same GroupMe id);
        # if the first try did commit, the second answers "duplicate" and the sweeper wakes the message's processing.
        if connection.in_atomic_block or connection.connection is None or connection.is_usable():
            raise  # inside a transaction, no connection to be had, or a live one that refused the statement
        connection.close()
        stored = _message_insert_execute(parameters)
    if connection.queries_logged:  # DEBUG, or a test counting statements: show it like any other
        connection.queries_log.append(
            {"sql": f"{MESSAGE_INSERT_SQL} -- prepared", "time": f"{time.monotonic() - started:.3f}"}
        )
    return stored


def _message_insert_execute(parameters: dict[str, Any]) -> bool:
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(MESSAGE_INSERT_SQL, parameters, prepare=True)
        return cursor.fetchone() is not None


def _enqueue_processing(*, tenant_id: Any, message_id: Any) -> None:
    from bots.outbox import outbox_wake  # the task module imports this one

    outbox_wake(tenant_id=tenant_id, message_id=message_id)


# --- Processing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyToSend:
    """A reply message processing has just written, with what posting it needs: the processing task posts it from
    these (`reply_send_processed`) instead of reading the interaction, its parts and its bot back."""

    interaction: Interaction
    parts: list[ReplyPart]
    groupme_bot_id: str


@dataclass(frozen=True)
class ProcessingOutcome:
    processed: bool
    interaction_id: Any = None
    reply_pending: bool = False
    reply: ReplyToSend | None = None


def message_process(*, tenant_id: Any, message_id: Any) -> ProcessingOutcome:
    """Counts the message, tracks its sender, and records the interaction and its reply parts when it is a command
    or a rule matches. Posting the reply is the caller's, after this returns (committed): `outcome.reply`.

    Idempotent: the message row is locked and `processed_at` is set in the same transaction, so a second run,
    concurrent or later, finds nothing to do.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("bot")
            .defer("bot__callback_token")  # encrypted: a decryption nobody here reads
            .filter(tenant_id=tenant_id, pk=message_id, processed_at__isnull=True)
            .first()
        )
        if message is None:
            return ProcessingOutcome(processed=False)
        member = None
        recorded = None
        if message.is_from_user and message.sender_id:
            member = member_record_message(message=message)
            message.member = member
        elif message.event:
            membership_event_apply(message=message)
        group_record_message(message=message)
        bot = message.bot
        if message.is_from_user and bot is not None and bot.is_active and bot.deleted_at is None:
            recorded = _interaction_for(message=message, bot=bot, member=member)
        interaction = recorded[0] if recorded else None
        if member is not None and member.is_opted_out and message.text is not None:
            message.text, message.attachments = None, []
            if interaction is not None and interaction.message_text is not None:
                Interaction.objects.filter(pk=interaction.pk).update(message_text=None)
        message.processed_at = timezone.now()
        message.has_interaction = interaction is not None
        message.save(update_fields=["member", "processed_at", "has_interaction", "text", "attachments"])
    reply = None
    if recorded and recorded[0].reply_status == Interaction.ReplyStatus.PENDING:
        assert bot is not None
        reply = ReplyToSend(interaction=recorded[0], parts=recorded[1], groupme_bot_id=bot.groupme_bot_id or "")
    logger.info(
        "message processed",
        extra={"message_id": str(message_id), "interaction": bool(interaction), "reply_pending": bool(reply)},
    )
    return ProcessingOutcome(
        processed=True, interaction_id=interaction.pk if interaction else None, reply_pending=bool(reply), reply=reply
    )


def _interaction_for(
    *, message: Message, bot: Bot, member: Member | None
) -> tuple[Interaction, list[ReplyPart]] | None:
    """The interaction and its unsent reply parts (none when it gets no reply); None for ordinary chatter."""
    text = message.text or ""
    command = command_word(text, command_prefix=bot.command_prefix)
    name = message.sender_name or "there"
    rule: Rule | None = None
    if member is not None and command == bot.optout_command:
        optin = f"{bot.command_prefix}{bot.optin_command}"
        intent, reply = "optout", bot.tenant.optout_reply_for(name=name, optin_command=optin)
    elif member is not None and command == bot.optin_command:
        optout = f"{bot.command_prefix}{bot.optout_command}"
        intent, reply = "optin", bot.tenant.optin_reply_for(name=name, optout_command=optout)
    else:
        rule = rule_first_match(rules_for_matching(bot=bot), text=text, command_prefix=bot.command_prefix)
        if rule is None and command is None:
            return None  # ordinary chatter: counted, not an interaction
        intent = rule.intent if rule else ""
        template = rule.response if rule else bot.fallback_text
        reply = "" if rule and rule.link_id else reply_render(template, name=name)
    # Opted-out members get no monetized replies at all: no offer, no link, nothing to track. (An opt-out changes
    # nothing here: its interaction has no rule.)
    link = rule.link if rule is not None and not (member is not None and member.is_opted_out) else None
    # Decided before the interaction is written, so that in the common case (no link, no sponsored line) the row
    # is inserted as it stays. The breaker reads only earlier interactions' parts, which this one does not change.
    quiet_reason = _loop_breaker_check(bot=bot, message=message)
    inserted_status = (
        Interaction.ReplyStatus.NONE
        if quiet_reason or (link is None and not reply_split(reply))
        else Interaction.ReplyStatus.PENDING
    )
    interaction = Interaction.objects.create(
        tenant_id=message.tenant_id,
        bot=bot,
        group_id=message.group_id,
        member=member,
        message=message,
        # An opted-out member's command is not kept once answered (an opt-in, which ends that, is).
        message_text=None if member is not None and member.is_opted_out and intent != "optin" else message.text,
        intent=intent,
        sentiment=sentiment_score(text),
        rule=rule,
        handled=rule is not None or intent in ("optout", "optin"),
        reply_text=reply,
        reply_status=inserted_status,
        occurred_at=message.sent_at,
    )
    if member is not None and intent == "optout":
        member_opt_out(member=member)
        Interaction.objects.filter(member=member).update(message_text=None)
        interaction.message_text = None
    elif member is not None and intent == "optin":
        member_opt_in(member=member)

    inserted_reply = reply
    if rule is not None and link is not None:
        # The link is unique to this interaction, so it needs the interaction's row first.
        reply = reply_render(rule.response, name=name, link=interaction_link_url(interaction=interaction, link=link))
    if reply and not quiet_reason:
        # After the loop breaker: a reply that stays quiet carries no ad and records no impression.
        sponsored = sponsored_line_for_reply(interaction=interaction, member=member)
        reply = f"{reply}\n\n{sponsored}" if sponsored else reply
    parts = reply_split(reply)
    interaction.reply_text = reply
    if quiet_reason or not parts:
        interaction.reply_status = Interaction.ReplyStatus.NONE
    if (reply, interaction.reply_status) != (inserted_reply, inserted_status):
        interaction.save(update_fields=["reply_text", "reply_status"])
    if interaction.reply_status == Interaction.ReplyStatus.NONE:
        return interaction, []
    reply_parts = ReplyPart.objects.bulk_create(
        ReplyPart(tenant_id=message.tenant_id, interaction=interaction, sequence=index, text=part)
        for index, part in enumerate(parts)
    )
    return interaction, reply_parts


def _loop_breaker_check(*, bot: Bot, message: Message) -> str:
    """Empty when the bot may answer; otherwise why it stays quiet (and the breaker is tripped if it was not)."""
    if bot.is_breaker_open:
        return "loop breaker open"
    recent = bot_recent_reply_texts(bot=bot, since=message.sent_at - LOOP_WINDOW, until=message.sent_at)
    incoming = (message.text or "").strip()
    limit = settings.BOTS_LOOP_MAX_REPLIES_PER_MINUTE
    reason = ""
    if incoming and incoming in {text.strip() for text in recent}:
        reason = "a user message repeated the bot's own reply"
    elif len(recent) >= limit:
        reason = f"more than {limit} replies in a minute"
    if reason:
        Bot.objects.filter(pk=bot.pk).update(
            breaker_open_until=timezone.now() + BREAKER_COOLDOWN,
            breaker_trips=F("breaker_trips") + 1,
            breaker_last_reason=reason,
        )
        logger.warning("loop breaker tripped", extra={"bot": str(bot.pk), "reason": reason})
    return reason


# --- Replies ---------------------------------------------------------------------------------------------------------


class ReplyRetryLater(Exception):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def reply_send(*, tenant_id: Any, interaction_id: Any) -> str:
    """Posts the interaction's pending parts in order; returns the interaction's reply status.

    Each part is claimed (pending -> sending) with a conditional UPDATE before it is posted and marked sent after
    GroupMe's 2xx, so two workers never post the same part, and a part GroupMe accepted is never posted again.
    Raises ReplyRetryLater on 429, 5xx and connection failures, leaving the part pending. A post that got no
    answer (read timeout) may have reached GroupMe, which takes no idempotency key: the part becomes uncertain
    and is settled by GroupMe's echo of the post to the bot's callback (sent), or posted again when no echo came
    within ECHO_WAIT.
    """
    interaction = (
        Interaction.objects.select_related("bot", "message")
        .defer("bot__callback_token")
        .filter(tenant_id=tenant_id, pk=interaction_id)
        .first()
    )
    if interaction is None or interaction.reply_status != Interaction.ReplyStatus.PENDING:
        return interaction.reply_status if interaction else "missing"
    parts = list(ReplyPart.objects.filter(interaction=interaction).order_by("sequence"))
    return _reply_post(interaction=interaction, parts=parts, bot_id=interaction.bot.groupme_bot_id or "")


def reply_send_processed(*, reply: ReplyToSend) -> str:
    """`reply_send` for a reply `message_process` has just written, from what processing holds: the same claims,
    without reading the interaction, its bot and its parts back. Any of its parts another worker took (a sweep) is
    left to that worker, as in `reply_send`."""
    return _reply_post(interaction=reply.interaction, parts=reply.parts, bot_id=reply.groupme_bot_id)


def _reply_post(*, interaction: Interaction, parts: list[ReplyPart], bot_id: str) -> str:
    accepted_at: datetime | None = None  # the last part's, once every part is through: the reply's response time
    for part in parts:
        if part.status == ReplyPart.Status.SENT:
            accepted_at = part.accepted_at
            continue
        if part.status == ReplyPart.Status.FAILED:
            return _reply_finish(interaction, failed=True)
        claimable = ReplyPart.Status.PENDING
        if part.status == ReplyPart.Status.UNCERTAIN:
            echoed_at = bot_post_echoed_at(
                tenant_id=interaction.tenant_id, group_id=interaction.group_id, text=part.text, since=part.updated_at
            )
            if echoed_at is not None:
                ReplyPart.objects.filter(pk=part.pk, status=ReplyPart.Status.UNCERTAIN).update(
                    status=ReplyPart.Status.SENT, accepted_at=echoed_at, last_status_code=None, last_error=""
                )
                accepted_at = echoed_at
                continue
            wait = (part.updated_at + ECHO_WAIT - timezone.now()).total_seconds()
            if wait > 0:
                raise ReplyRetryLater("waiting for GroupMe's echo of a post that got no answer", retry_after=wait)
            claimable = ReplyPart.Status.UNCERTAIN  # no echo: GroupMe never had it
        claimed = ReplyPart.objects.filter(pk=part.pk, status=claimable).update(
            status=ReplyPart.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
        )
        if not claimed:
            return Interaction.ReplyStatus.PENDING  # another worker holds this part; it will finish the reply
        try:
            groupme.bot_post(bot_id=bot_id, text=part.text)
        except groupme.GroupMeOutcomeUnknownError as exc:
            # Posting again now could show the group the reply twice: wait for GroupMe's echo of it instead.
            _part_update(part, status=ReplyPart.Status.UNCERTAIN, error=exc)
            raise ReplyRetryLater(str(exc), retry_after=ECHO_WAIT.total_seconds()) from exc
        except groupme.GroupMeRetryableError as exc:
            _part_update(part, status=ReplyPart.Status.PENDING, error=exc)
            raise ReplyRetryLater(str(exc), retry_after=exc.retry_after) from exc
        except groupme.GroupMeRejectedError as exc:
            _part_update(part, status=ReplyPart.Status.FAILED, error=exc)
            return _reply_finish(interaction, failed=True)
        accepted_at = timezone.now()
        ReplyPart.objects.filter(pk=part.pk).update(
            status=ReplyPart.Status.SENT, accepted_at=accepted_at, last_status_code=None, last_error=""
        )
    return _reply_finish(interaction, failed=False, accepted_at=accepted_at)


def _part_update(part: ReplyPart, *, status: str, error: groupme.GroupMeError) -> None:
    ReplyPart.objects.filter(pk=part.pk).update(
        status=status, last_status_code=error.status_code, last_error=str(error)[:255], updated_at=timezone.now()
    )


def _reply_finish(interaction: Interaction, *, failed: bool, accepted_at: datetime | None = None) -> str:
    """`accepted_at`: when GroupMe accepted the reply's last part (on success)."""
    if failed:
        status = Interaction.ReplyStatus.FAILED
        response_time_ms = None
    else:
        status = Interaction.ReplyStatus.SENT
        elapsed = (accepted_at or timezone.now()) - interaction.message.received_at
        response_time_ms = min(max(0, round(elapsed.total_seconds() * 1000)), 2**31 - 1)
    finished = Interaction.objects.filter(pk=interaction.pk, reply_status=Interaction.ReplyStatus.PENDING).update(
        reply_status=status, response_time_ms=response_time_ms
    )
    if finished and failed:
        sponsored_lines_not_shown(tenant_id=interaction.tenant_id, interaction_id=interaction.pk)
    logger.info("reply finished", extra={"interaction": str(interaction.pk), "status": status})
    return status


def reply_give_up(*, tenant_id: Any, interaction_id: Any, reason: str) -> None:
    """After the last retry: the unsent parts and the interaction are marked failed, visibly."""
    with transaction.atomic():
        unsent = [ReplyPart.Status.PENDING, ReplyPart.Status.SENDING, ReplyPart.Status.UNCERTAIN]
        ReplyPart.objects.filter(tenant_id=tenant_id, interaction_id=interaction_id, status__in=unsent).update(
            status=ReplyPart.Status.FAILED, last_error=reason[:255], updated_at=timezone.now()
        )
        failed = Interaction.objects.filter(
            tenant_id=tenant_id, pk=interaction_id, reply_status=Interaction.ReplyStatus.PENDING
        ).update(reply_status=Interaction.ReplyStatus.FAILED)
        if failed:
            sponsored_lines_not_shown(tenant_id=tenant_id, interaction_id=interaction_id)
    logger.warning("reply failed", extra={"interaction": str(interaction_id), "reason": reason})


# --- Bots, rules and provisioning -------------------------------------------------------------------------------------


def groupme_connection_set(*, tenant: Tenant, access_token: str, connected_by: User | None = None) -> GroupMeConnection:
    """Stores the tenant's GroupMe token after GroupMe accepted it (by listing the user's groups)."""
    access_token = access_token.strip()
    if not access_token:
        raise ValidationError({"access_token": "Paste the access token from dev.groupme.com."})
    try:
        groupme.groups_list(token=access_token)
    except groupme.GroupMeRejectedError as exc:
        raise ValidationError({"access_token": "GroupMe refused this token."}) from exc
    except groupme.GroupMeRetryableError as exc:
        raise GroupMeUnavailable(str(exc)) from exc
    connection, _ = GroupMeConnection.objects.update_or_create(
        tenant=tenant, defaults={"access_token": access_token, "connected_by": connected_by}
    )
    return connection


class GroupMeUnavailable(Exception):
    """GroupMe did not answer; the caller should try again later (the API answers 503)."""


def groupme_groups(*, tenant: Tenant) -> list[groupme.GroupMeGroup]:
    connection = groupme_connection_get(tenant=tenant)
    if connection is None:
        raise ValidationError("Connect a GroupMe access token first.")
    try:
        return groupme.groups_list(token=connection.access_token)
    except groupme.GroupMeRejectedError as exc:
        raise ValidationError("GroupMe refused the stored access token; connect it again.") from exc
    except groupme.GroupMeRetryableError as exc:
        raise GroupMeUnavailable(str(exc)) from exc


BOT_EDITABLE_FIELDS = ("name", "command_prefix", "fallback_text", "optout_command", "optin_command", "is_active")


def _bot_fields_clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    for command in ("optout_command", "optin_command"):
        if command in cleaned:
            cleaned[command] = str(cleaned[command]).strip().lower()
            if not cleaned[command] or " " in cleaned[command]:
                raise ValidationError({command: "One word, without the prefix."})
    if "command_prefix" in cleaned and (not cleaned["command_prefix"] or " " in cleaned["command_prefix"]):
        raise ValidationError({"command_prefix": "One to eight characters, no spaces."})
    return cleaned


@transaction.atomic
def bot_create(
    *,
    tenant: Tenant,
    name: str,
    groupme_group_id: str,
    groupme_bot_id: str | None = None,
    avatar_url: str = "",
    **fields: Any,
) -> Bot:
    """A bot in one group. With a GroupMe bot id it is registered as it is (manual mode); without one, Botyard
    creates it at GroupMe with the tenant's access token and its own callback URL."""
    unknown = set(fields) - set(BOT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"unexpected bot fields: {sorted(unknown)}")
    fields.setdefault("fallback_text", tenant.default_fallback_reply)  # the tenant's wording unless one is given
    fields = _bot_fields_clean(fields)
    group = group_get_or_create(tenant=tenant, groupme_group_id=str(groupme_group_id).strip())
    if Bot.objects.filter(tenant=tenant, group=group, deleted_at__isnull=True).exists():
        raise ValidationError(
            {"groupme_group_id": "You already have a bot in this group; give it more rules, or delete it first."}
        )
    token = url_token_new()
    bot = Bot(
        tenant=tenant,
        name=name,
        group=group,
        callback_token=token,
        callback_token_hash=url_token_hash(token),
        groupme_bot_id=(groupme_bot_id or "").strip() or None,
        **fields,
    )
    if bot.groupme_bot_id is None:
        connection = groupme_connection_get(tenant=tenant)
        if connection is None:
            raise ValidationError(
                {"groupme_bot_id": "Give the GroupMe bot id, or connect a GroupMe access token to create the bot."}
            )
        try:
            bot.groupme_bot_id = groupme.bot_create(
                token=connection.access_token, name=name, group_id=group.groupme_group_id,
                callback_url=bot.callback_url, avatar_url=avatar_url,
            )  # fmt: skip
        except groupme.GroupMeRejectedError as exc:
            raise ValidationError({"groupme_group_id": f"GroupMe would not create the bot: {exc}"}) from exc
        except groupme.GroupMeRetryableError as exc:
            raise GroupMeUnavailable(str(exc)) from exc
        bot.provisioned_at = timezone.now()
    bot.save()
    logger.info("bot created", extra={"bot": str(bot.pk), "provisioned": bot.provisioned_at is not None})
    return bot


def bot_update(*, bot: Bot, groupme_bot_id: str | None = None, **fields: Any) -> Bot:
    unknown = set(fields) - set(BOT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for name, value in _bot_fields_clean(fields).items():
        setattr(bot, name, value)
    if groupme_bot_id:
        bot.groupme_bot_id = groupme_bot_id.strip()
    bot.save()
    return bot


def bot_delete(*, bot: Bot) -> None:
    """Stops the bot and hides it; its history stays for analytics. A bot Botyard created is destroyed at GroupMe."""
    if bot.provisioned_at is not None and bot.groupme_bot_id:
        connection = groupme_connection_get(tenant=bot.tenant)
        if connection is not None:
            try:
                groupme.bot_destroy(token=connection.access_token, bot_id=bot.groupme_bot_id)
            except groupme.GroupMeRejectedError:
                logger.warning("groupme bot already gone", extra={"bot": str(bot.pk)})
            except groupme.GroupMeRetryableError as exc:
                raise GroupMeUnavailable(str(exc)) from exc
    bot.is_active = False
    bot.deleted_at = timezone.now()
    bot.save(update_fields=["is_active", "deleted_at"])


def bot_breaker_reset(*, bot: Bot) -> Bot:
    bot.breaker_open_until = None
    bot.save(update_fields=["breaker_open_until"])
    return bot


def _rule_fields_clean(*, bot: Bot, fields: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(fields)
    kind = cleaned.get("kind")
    pattern = str(cleaned.get("pattern", "")).strip()
    if kind == Rule.Kind.COMMAND:
        pattern = pattern.removeprefix(bot.command_prefix).strip().lower()
        if not pattern or " " in pattern:
            raise ValidationError({"pattern": "A command is one word, e.g. help (the prefix is added)."})
    elif kind == Rule.Kind.KEYWORD:
        if not pattern:
            raise ValidationError({"pattern": "Give the keyword to look for."})
    elif kind == Rule.Kind.REGEX:
        regex_validate(pattern)
    cleaned["pattern"] = pattern
    if not str(cleaned.get("response", "")).strip():
        raise ValidationError({"response": "A rule needs a reply."})
    link = cleaned.get("link")
    if link is not None and link.tenant_id != bot.tenant_id:
        raise ValidationError({"link": "No such link."})
    return cleaned


def rule_create(*, bot: Bot, **fields: Any) -> Rule:
    cleaned = _rule_fields_clean(bot=bot, fields=fields)
    return Rule.objects.create(tenant_id=bot.tenant_id, bot=bot, **cleaned)


def rule_update(*, rule: Rule, **fields: Any) -> Rule:
    merged = {name: getattr(rule, name) for name in ("kind", "pattern", "response")} | fields
    cleaned = _rule_fields_clean(bot=rule.bot, fields=merged)
    for name, value in cleaned.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def rule_delete(*, rule: Rule) -> None:
    rule.delete()


def raw_text_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Drops message text older than RAW_TEXT_RETENTION_DAYS (messages and the interactions that quote them)."""
    horizon = (now or timezone.now()) - timedelta(days=settings.RAW_TEXT_RETENTION_DAYS)
    messages = message_text_expire(sent_before=horizon)
    stale = Interaction.objects.filter(occurred_at__lt=horizon, message_text__isnull=False).order_by("occurred_at")
    ids = list(stale.values_list("pk", flat=True)[:5000])
    interactions = Interaction.objects.filter(pk__in=ids).update(message_text=None)
    report = {"messages": messages, "interactions": interactions}
    logger.info("raw text expired", extra=report)
    return report
