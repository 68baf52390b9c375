"""Writes for groups and members: what a processed message or a GroupMe system event changes."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from groups.models import Group, Member, Message
from tenants.models import Tenant

logger = logging.getLogger("botyard.groups")

ENGAGEMENT_HALF_LIFE = timedelta(days=14)

# GroupMe system events that change who is in a group, and where the affected users are in `event.data`.
_JOIN_EVENTS = {"membership.announce.added": "added_users", "membership.announce.joined": "user",
                "membership.announce.rejoined": "user"}  # fmt: skip
_LEAVE_EVENTS = {"membership.notifications.removed": "removed_user", "membership.notifications.exited": "user"}


def message_insert_once(*, message: Message) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: True when this call stored the message, False for a repeat.

    One statement (one round trip in autocommit) instead of BEGIN / INSERT / COMMIT, and a repeat costs no
    exception or rollback. The unique (group, GroupMe message id) constraint decides between concurrent
    deliveries. Works on PostgreSQL and SQLite ≥ 3.35.
    """
    fields = list(Message._meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [field.get_db_prep_save(field.pre_save(message, add=True), connection) for field in fields]
    # Only quoted identifiers from the model's own metadata are formatted in; every value is a parameter.
    statement = (
        f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({quote('group_id')}, {quote('groupme_message_id')}) DO NOTHING RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        return cursor.fetchone() is not None


def group_get_or_create(*, tenant: Tenant, groupme_group_id: str, name: str = "") -> Group:
    group, created = Group.objects.get_or_create(
        tenant=tenant, groupme_group_id=groupme_group_id, defaults={"name": name}
    )
    if not created and name and group.name != name:
        group.name = name
        group.save(update_fields=["name"])
    return group


def _engagement_after(member: Member, *, at: datetime) -> float:
    """The score with one more message at `at`: older activity decays with a 14-day half-life."""
    half_lives = (at - member.last_seen_at) / ENGAGEMENT_HALF_LIFE
    if half_lives >= 0:
        return float(member.engagement_score * 0.5**half_lives + 1.0)
    return float(member.engagement_score + 0.5 ** (-half_lives))  # a late message counts for what it would have


def member_record_message(*, message: Message) -> Member:
    """The sender of a user message: created on first sight, counted, engagement updated. Row-locked."""
    # Locked as it is read (a member just created is this transaction's own row): one statement, not a read and
    # a locking read again.
    member: Member
    member, created = Member.objects.select_for_update().get_or_create(
        tenant_id=message.tenant_id,
        group_id=message.group_id,
        groupme_user_id=message.sender_id,
        defaults={"nickname": message.sender_name, "first_seen_at": message.sent_at, "last_seen_at": message.sent_at},
    )
    member.engagement_score = _engagement_after(member, at=message.sent_at)
    member.message_count += 1
    member.first_seen_at = min(member.first_seen_at, message.sent_at)
    member.last_seen_at = max(member.last_seen_at, message.sent_at)
    if message.sender_name:
        member.nickname = message.sender_name
    rejoined = not member.is_present
    member.is_present = True
    member.save(update_fields=["engagement_score", "message_count", "first_seen_at", "last_seen_at", "nickname",
                               "is_present"])  # fmt: skip
    if created or rejoined:
        Group.objects.filter(pk=message.group_id).update(member_count=F("member_count") + 1)
    return member


def group_record_message(*, message: Message) -> None:
    sent_at = Value(message.sent_at, output_field=DateTimeField())
    Group.objects.filter(pk=message.group_id).update(
        message_count=F("message_count") + 1,
        last_message_at=Greatest(Coalesce(F("last_message_at"), sent_at), sent_at),
    )


def _users_in(event: dict[str, Any], key: str) -> list[dict[str, Any]]:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    found = data.get(key) if isinstance(data, dict) else None
    users = found if isinstance(found, list) else [found]
    return [user for user in users if isinstance(user, dict) and str(user.get("id", "")).strip()]


def membership_event_apply(*, message: Message) -> int:
    """Joins and leaves announced by GroupMe system messages; returns how many members changed."""
    event = message.event or {}
    event_type = event.get("type")
    if event_type in _JOIN_EVENTS:
        present, key = True, _JOIN_EVENTS[event_type]
    elif event_type in _LEAVE_EVENTS:
        present, key = False, _LEAVE_EVENTS[event_type]
    else:
        return 0
    changed = 0
    for user in _users_in(event, key):
        member, created = Member.objects.get_or_create(
            tenant_id=message.tenant_id,
            group_id=message.group_id,
            groupme_user_id=str(user["id"])[:64],
            defaults={"nickname": str(user.get("nickname") or "")[:255], "first_seen_at": message.sent_at,
                      "last_seen_at": message.sent_at, "is_present": present},
        )  # fmt: skip
        if created or member.is_present != present:
            Member.objects.filter(pk=member.pk).update(is_present=present)
            changed += 1
    if changed:
        present_count = Member.objects.filter(group_id=message.group_id, is_present=True).count()
        Group.objects.filter(pk=message.group_id).update(member_count=present_count)
    return changed


def member_opt_out(*, member: Member) -> int:
    """Stop storing the member's text and redact what is stored; returns how many messages were redacted."""
    if member.opted_out_at is None:
        member.opted_out_at = timezone.now()
        member.save(update_fields=["opted_out_at"])
    redacted = Message.objects.filter(member=member).exclude(text=None).update(text=None, attachments=[])
    logger.info("member opted out", extra={"member": str(member.pk), "redacted_messages": redacted})
    return redacted


def member_opt_in(*, member: Member) -> None:
    if member.opted_out_at is not None:
        member.opted_out_at = None
        member.save(update_fields=["opted_out_at"])


def message_text_expire(*, sent_before: datetime, batch: int = 5000) -> int:
    """Retention: message text and attachments older than the horizon are dropped, in bounded batches; the rows
    (and so every count and KPI) stay. Returns how many messages lost their text."""
    expiring = Message.objects.filter(sent_at__lt=sent_before, text__isnull=False).order_by("sent_at")
    ids = list(expiring.values_list("pk", flat=True)[:batch])
    return Message.objects.filter(pk__in=ids).update(text=None, attachments=[])
