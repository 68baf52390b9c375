from django.conf import settings
from django.db import models
from django.utils import timezone

from monetization.currencies import CURRENCY_CHOICES
from tenants.encryption import EncryptedTextField
from tenants.models import TenantOwnedModel


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

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="clicks")
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

    source = models.ForeignKey(MonetizationSource, on_delete=models.PROTECT, related_name="conversions")
    interaction = models.ForeignKey(
        "bots.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    attributed_click = models.ForeignKey(
        Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    click_id = models.CharField(max_length=64, blank=True, help_text="As the source reported it.")
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
            models.Index(fields=["interaction"]),
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
