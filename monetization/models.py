from django.conf import settings
from django.db import models
from django.utils import timezone

from monetization.currencies import CURRENCY_CHOICES
from tenants.encryption import EncryptedTextField
from tenants.models import Tenant, TenantOwnedModel


class MonetizationSource(TenantOwnedModel):
    """Where money comes from: an affiliate program, a sponsor, subscriptions or donations."""

    class Kind(models.TextChoices):
        AFFILIATE = "affiliate"
        SPONSORSHIP = "sponsorship"
        SUBSCRIPTION = "subscription"
        DONATION = "donation"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    details = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    attribution_window_days = models.PositiveSmallIntegerField(default=30)
    # The postback URL's secret: its SHA-256 finds the source, the encrypted copy lets us show the URL again.
    postback_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    postback_token = EncryptedTextField(editable=False)
    # Stripe-style signed webhooks (subscription and donation sources): the signing secret, encrypted.
    webhook_secret = EncryptedTextField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def postback_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/hooks/postback/{self.postback_token}/"

    @property
    def webhook_url(self) -> str:
        return f"{settings.PUBLIC_BASE_URL}/hooks/payments/{self.postback_token}/"


class Link(TenantOwnedModel):
    """A destination a rule's reply can point to; each interaction gets its own short URL to it."""

    code = models.CharField(max_length=16, unique=True, editable=False)
    name = models.CharField(max_length=100, blank=True)
    destination_url = models.URLField(max_length=2000)
    click_param = models.CharField(max_length=40, default="click_id")
    source = models.ForeignKey(
        MonetizationSource, null=True, blank=True, on_delete=models.SET_NULL, related_name="links"
    )

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return self.name or self.destination_url


class InteractionLink(TenantOwnedModel):
    """The short URL of one link in one interaction's reply: a click on it is attributed to that interaction."""

    code = models.CharField(max_length=16, unique=True, editable=False)
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="interaction_links")
    interaction = models.ForeignKey("bots.Interaction", on_delete=models.CASCADE, related_name="links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["interaction", "link"], name="interaction_link_once"),
        ]


class Click(TenantOwnedModel):
    """One visit of a short URL. The click's id is what travels to the destination as the click parameter."""

    # No index of its own: (tenant, -clicked_at) and (tenant, created_at) start with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    # No index of its own: (link, -clicked_at) and (link, visitor_hash) both start with it.
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="clicks", db_index=False)
    interaction = models.ForeignKey(
        "bots.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="clicks"
    )
    clicked_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    # A keyed hash of the visitor's address, salted per day: enough to spot repeats, useless to identify anyone.
    visitor_hash = models.CharField(max_length=64, blank=True)
    is_bot = models.BooleanField(default=False, help_text="Link-preview fetchers and crawlers; not a human click.")

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-clicked_at"]),
            models.Index(fields=["link", "-clicked_at"]),
            models.Index(fields=["tenant", "created_at"]),  # the KPI job's "what was written since"
            # People's clicks per link, read from the index alone (no heap): the links page counts them and their
            # distinct visitors (in visitor order: no hashing), sponsor performance matches them by time and
            # interaction. It takes the place of the link's own foreign-key index: a click writes no more indexes.
            models.Index(
                fields=["link", "visitor_hash", "clicked_at", "interaction"],
                name="click_human_visitor",
                condition=models.Q(is_bot=False),
            ),
        ]


class Conversion(TenantOwnedModel):
    """A signup, checkout, purchase, subscription, donation or refund reported by a source, attributed if we can."""

    class Outcome(models.TextChoices):
        SIGNUP = "signup"
        CHECKOUT = "checkout"
        PURCHASE = "purchase"
        SUBSCRIPTION = "subscription"
        DONATION = "donation"
        REFUND = "refund"

    class Via(models.TextChoices):
        POSTBACK = "postback"
        API = "api"
        WEBHOOK = "webhook"

    # No index of its own: (tenant, -occurred_at) and (tenant, created_at) start with it.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(MonetizationSource, on_delete=models.PROTECT, related_name="conversions")
    interaction = models.ForeignKey(
        "bots.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    attributed_click = models.ForeignKey(
        Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    click_id = models.CharField(max_length=64, blank=True, help_text="As the source reported it.")
    # The attributed click's time when a person made it (not a link-preview fetcher), copied at attribution: the
    # funnel counts conversions by when their click happened, and reads it here instead of joining every click.
    human_click_at = models.DateTimeField(
        null=True, blank=True, help_text="When the attributed click was made, if a person made it."
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    amount = models.BigIntegerField(default=0, help_text="Minor units; negative for refunds.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    external_id = models.CharField(max_length=255, help_text="The provider's transaction id (txn_id).")
    occurred_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.POSTBACK)
    attribution = models.JSONField(default=dict, blank=True, help_text="Why it is (or is not) attributed.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="conversion_once_per_source_txn"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-occurred_at"]),
            models.Index(fields=["tenant", "created_at"]),  # the KPI job's "what was written since"
            models.Index(
                fields=["tenant", "human_click_at"],
                name="conversion_human_click",
                condition=models.Q(human_click_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.amount} {self.currency}"


class PostbackReceipt(TenantOwnedModel):
    """Every accepted postback or payment event as it arrived, duplicates included: what reconciliation sums."""

    source = models.ForeignKey(MonetizationSource, on_delete=models.CASCADE, related_name="receipts")
    conversion = models.ForeignKey(Conversion, on_delete=models.SET_NULL, null=True, related_name="receipts")
    external_id = models.CharField(max_length=255)
    outcome = models.CharField(max_length=12, choices=Conversion.Outcome.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    duplicate = models.BooleanField(default=False)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tenant", "source", "-received_at"])]


class WebhookEvent(TenantOwnedModel):
    """A verified payment webhook event, kept by its provider id so a replay changes nothing."""

    source = models.ForeignKey(MonetizationSource, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "event_id"], name="webhook_event_once")]


class Creative(TenantOwnedModel):
    """A sponsor's message: appended to bot replies, or posted by the bot at set local times, with a disclosure."""

    class Mode(models.TextChoices):
        REPLY = "reply", "Appended to bot replies"
        SCHEDULED = "scheduled", "Posted by the bot at set times"

    source = models.ForeignKey(MonetizationSource, on_delete=models.CASCADE, related_name="creatives")
    name = models.CharField(max_length=100, blank=True)
    text = models.CharField(max_length=500)
    link = models.ForeignKey(Link, null=True, blank=True, on_delete=models.SET_NULL, related_name="creatives")
    groups = models.ManyToManyField(
        "groups.Group", blank=True, related_name="creatives", help_text="None: every group of the tenant."
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True)
    daily_cap_per_group = models.PositiveSmallIntegerField(
        default=3, help_text="Impressions per group per day (the tenant's day) at most."
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.REPLY)
    post_times = models.JSONField(
        default=list, blank=True, help_text='Scheduled mode: "HH:MM" times of day in the tenant\'s time zone.'
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["tenant", "mode", "is_active"]),
        ]

    def __str__(self) -> str:
        return self.name or self.text[:40]


class SponsoredImpression(TenantOwnedModel):
    """One sponsored line shown in one group: on a bot reply (`interaction`) or as a scheduled post (`slot`).

    A scheduled post's row is created before it is posted: the unique (creative, group, local date, slot) is the
    claim that makes it go out once, and a post GroupMe finally refuses stays here as failed.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        # Posted, and no answer: GroupMe may have it. Settled by GroupMe's echo of the post to the bot's callback.
        UNCERTAIN = "uncertain"
        SENT = "sent"
        FAILED = "failed"

    creative = models.ForeignKey(Creative, on_delete=models.CASCADE, related_name="impressions")
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="sponsored_impressions")
    interaction = models.ForeignKey(
        "bots.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="sponsored_impressions"
    )
    local_date = models.DateField(help_text="The day in the tenant's time zone: what the daily cap counts.")
    slot = models.CharField(max_length=5, blank=True, help_text='Scheduled posts: the "HH:MM" post time.')
    sent_at = models.DateTimeField(default=timezone.now)
    member_count = models.PositiveIntegerField(default=0, help_text="The group's members when it was sent.")
    text = models.TextField(help_text="The line as sent, disclosure included.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENT)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["creative", "group", "local_date", "slot"],
                condition=~models.Q(slot=""),
                name="sponsored_post_once_per_slot",
            ),
        ]
        indexes = [
            models.Index(fields=["creative", "group", "local_date"]),
            models.Index(fields=["tenant", "local_date"]),
            models.Index(
                fields=["updated_at"],
                name="sponsored_post_unsettled",
                condition=models.Q(status__in=["pending", "sending", "uncertain"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.creative_id} in {self.group_id} on {self.local_date} {self.slot}".strip()
