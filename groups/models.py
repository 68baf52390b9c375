from django.db import models
from django.utils import timezone

from tenants.models import Tenant, TenantOwnedModel


class Group(TenantOwnedModel):
    """A GroupMe group as one tenant sees it (two tenants with bots in one group each have their own row)."""

    groupme_group_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True)
    member_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "groupme_group_id"], name="group_unique_per_tenant")]

    def __str__(self) -> str:
        return self.name or self.groupme_group_id


class Member(TenantOwnedModel):
    """A GroupMe user in one group."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    groupme_user_id = models.CharField(max_length=64)
    nickname = models.CharField(max_length=255, blank=True)
    avatar_url = models.URLField(max_length=500, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    message_count = models.PositiveIntegerField(default=0)
    # Messages with a 14-day half-life: recent activity counts most, and it is updated in O(1) per message.
    engagement_score = models.FloatField(default=0.0)
    is_present = models.BooleanField(default=True, help_text="False once GroupMe reports that the member left.")
    opted_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "groupme_user_id"], name="member_unique_per_group"),
        ]
        indexes = [models.Index(fields=["tenant", "group", "-last_seen_at"])]

    def __str__(self) -> str:
        return self.nickname or self.groupme_user_id

    @property
    def is_opted_out(self) -> bool:
        return self.opted_out_at is not None


class Message(TenantOwnedModel):
    """A group message, stored once per GroupMe message id. `processed_at` null means it is still in the outbox."""

    class SenderType(models.TextChoices):
        USER = "user"
        BOT = "bot"
        SYSTEM = "system"
        SERVICE = "service"

    # Every callback writes one row, and each index is a write of its own: the tenant's and the group's lookups are
    # served by the composite indexes below, which lead with them, so neither column has an index of its own.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="messages", db_index=False)
    bot = models.ForeignKey("bots.Bot", null=True, on_delete=models.SET_NULL, related_name="messages")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    groupme_message_id = models.CharField(max_length=64)
    sender_type = models.CharField(max_length=10, choices=SenderType.choices)
    sender_id = models.CharField(max_length=64, blank=True)
    sender_name = models.CharField(max_length=255, blank=True)
    # Null when the sender opted out (never stored) or was redacted afterwards.
    text = models.TextField(null=True, blank=True)  # noqa: DJ001
    attachments = models.JSONField(default=list, blank=True)
    is_system = models.BooleanField(default=False)
    event = models.JSONField(null=True, blank=True)
    sent_at = models.DateTimeField(help_text="GroupMe's created_at.")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Set by processing in the transaction that records the message's interaction (a message has at most one), so the
    # KPI rebuild learns who talked to a bot on which day from the scan of messages it makes anyway, not from a second
    # scan of the interactions.
    has_interaction = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "groupme_message_id"], name="message_once_per_group"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-sent_at"]),
            models.Index(fields=["tenant", "received_at"]),  # the KPI job's "what was written since"
            # The outbox: only unprocessed rows are in this index, so the sweeper's scan stays tiny.
            models.Index(fields=["received_at"], name="message_outbox", condition=models.Q(processed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.sender_name}: {(self.text or '')[:40]}"

    @property
    def is_from_user(self) -> bool:
        return self.sender_type == self.SenderType.USER and not self.is_system
