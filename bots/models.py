from django.conf import settings
from django.db import models
from django.utils import timezone

from groups.models import Group, Member, Message
from tenants.encryption import EncryptedTextField
from tenants.models import Tenant, TenantOwnedModel, User


class GroupMeConnection(TenantOwnedModel):
    """A tenant's GroupMe access token, used to list their groups and create or destroy bots."""

    access_token = EncryptedTextField()
    connected_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="groupme_connection_one_per_tenant")]

    def __str__(self) -> str:
        return f"GroupMe connection of {self.tenant_id}"


class Bot(TenantOwnedModel):
    name = models.CharField(max_length=100)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="bots")
    groupme_bot_id = EncryptedTextField(null=True, blank=True)
    # The callback URL's secret: its SHA-256 finds the bot, the encrypted copy lets us show the URL again.
    callback_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    callback_token = EncryptedTextField(editable=False)
    command_prefix = models.CharField(max_length=8, default="!")
    fallback_text = models.TextField(
        blank=True, default="Sorry, I don't know that one.", help_text="Reply to an unknown command; empty: no reply."
    )
    optout_command = models.CharField(max_length=32, default="optout")
    optin_command = models.CharField(max_length=32, default="optin")
    is_active = models.BooleanField(default=True)
    provisioned_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when Botyard created the bot at GroupMe (and so destroys it there)."
    )
    breaker_open_until = models.DateTimeField(null=True, blank=True)
    breaker_trips = models.PositiveIntegerField(default=0)
    breaker_last_reason = models.CharField(max_length=255, blank=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted bots keep their history for analytics and attribution."
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"])]
        constraints = [
            # GroupMe sends every message to every bot of a group and Botyard stores it once, for one bot.
            models.UniqueConstraint(
                fields=["tenant", "group"], condition=models.Q(deleted_at__isnull=True), name="bot_one_per_group"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def callback_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/hooks/groupme/{self.callback_token}/"

    @property
    def is_breaker_open(self) -> bool:
        return self.breaker_open_until is not None and self.breaker_open_until > timezone.now()


class Rule(TenantOwnedModel):
    class Kind(models.TextChoices):
        COMMAND = "command", "Command (prefix + word)"
        KEYWORD = "keyword", "Keyword (whole word anywhere)"
        REGEX = "regex", "Regular expression (RE2)"

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    pattern = models.CharField(max_length=500)
    response = models.TextField(help_text="{name}: the sender's name; {link}: a tracked link for this interaction.")
    intent = models.CharField(max_length=64, blank=True)
    priority = models.IntegerField(default=100, help_text="Lower runs first.")
    link = models.ForeignKey(
        "monetization.Link", null=True, blank=True, on_delete=models.SET_NULL, related_name="rules",
        help_text="What {link} in the response points to: a short URL unique to each interaction.",
    )  # fmt: skip
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "created_at"]
        indexes = [models.Index(fields=["bot", "priority"])]

    def __str__(self) -> str:
        return self.name


class Interaction(TenantOwnedModel):
    """A user message the bot acted on: a rule matched, or it started with the command prefix."""

    class ReplyStatus(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"
        NONE = "none", "No reply"

    # No index of their own: (tenant, -occurred_at), (tenant, created_at) and (bot, -occurred_at) lead with them.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="interactions", db_index=False)
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="interactions")
    # Indexed with occurred_at below: the same index serves the cascade and "did this member interact in a range".
    member = models.ForeignKey(
        Member, null=True, on_delete=models.SET_NULL, related_name="interactions", db_index=False
    )
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="interaction")
    message_text = models.TextField(null=True, blank=True)  # noqa: DJ001 - null: redacted (opt-out), not empty
    intent = models.CharField(max_length=64, blank=True)
    sentiment = models.FloatField(default=0.0)
    rule = models.ForeignKey(Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions")
    handled = models.BooleanField(default=True, help_text="False: no rule matched (an unhandled command).")
    reply_text = models.TextField(blank=True)
    reply_status = models.CharField(max_length=10, choices=ReplyStatus.choices, default=ReplyStatus.PENDING)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(help_text="When the message was sent in the group.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-occurred_at"]),
            models.Index(fields=["bot", "-occurred_at"]),
            models.Index(fields=["tenant", "created_at"]),  # the KPI job's "what was written since"
            # Engaged members over any range: one probe per member (community economics).
            models.Index(fields=["member", "occurred_at"], name="bots_interaction_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.intent or 'unhandled'}: {(self.message_text or '')[:40]}"


class ReplyPart(TenantOwnedModel):
    """One bot post (at most 1000 characters) of a reply; parts go out in `sequence` order."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        # Posted, and no answer: GroupMe may have it. Settled by GroupMe's echo of the post to the bot's callback.
        UNCERTAIN = "uncertain"
        SENT = "sent"
        FAILED = "failed"

    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="reply_parts")
    sequence = models.PositiveSmallIntegerField()
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(fields=["interaction", "sequence"], name="reply_part_once_per_sequence"),
        ]
        indexes = [
            # Every part not settled yet: what the outbox sweeper looks for, however long the history.
            models.Index(
                fields=["updated_at"],
                name="reply_part_unsettled",
                condition=models.Q(status__in=["pending", "sending", "uncertain"]),
            ),
            models.Index(fields=["tenant", "updated_at"]),  # KPI job and bot health: parts changed since
        ]

    def __str__(self) -> str:
        return f"part {self.sequence} ({self.status})"
