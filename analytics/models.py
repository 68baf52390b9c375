from django.db import models

from tenants.models import Tenant, TenantOwnedModel


class DailyRollup(TenantOwnedModel):
    """Every KPI figure of one tenant-local day for one bot and group (both null: money nobody's interaction earned).

    Rebuilt whole from raw rows, never incremented: running the rebuild twice, or again after a crash, gives the
    same row. Response times are a histogram over fixed buckets (analytics.histogram), so percentiles over any
    range come from merged buckets instead of re-reading interactions.
    """

    day = models.DateField()
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    messages = models.PositiveIntegerField(default=0)
    interactions = models.PositiveIntegerField(default=0)
    unhandled = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)
    conversions = models.PositiveIntegerField(default=0)
    purchases = models.PositiveIntegerField(default=0)
    revenue = models.JSONField(default=dict, help_text="Currency -> net minor units, refunds subtracted.")
    response_time_buckets = models.JSONField(default=list)
    sentiment_sum = models.FloatField(default=0.0)
    sentiment_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"])]


class MemberDay(TenantOwnedModel):
    """A member who sent at least one message on a tenant-local day: distinct active members over any range
    are exact (COUNT DISTINCT over these rows), never a sum of daily counts."""

    # An integer key the database assigns, so a day's rows are written by one INSERT … SELECT DISTINCT.
    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    day = models.DateField()
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("groups.Member", on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["tenant", "day", "group"])]


class AggregationWatermark(models.Model):
    """How far the KPI job has read each tenant's raw rows; a day touched after it is rebuilt on the next run."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+")
    read_through = models.DateTimeField(help_text="Rows created before this were rolled up.")
    time_zone = models.CharField(max_length=64, help_text="The zone the days were cut in; a change rebuilds all.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id} read through {self.read_through:%Y-%m-%d %H:%M}"


class BotHealthCondition(models.TextChoices):
    SILENT = "silent", "Silent bot"
    ERROR_RATE = "error_rate", "Reply errors"
    RATE_LIMITED = "rate_limited", "Rate limited by GroupMe"
    LOOP_BREAKER = "loop_breaker", "Loop breaker open"
    FAILING_BOT_ID = "failing_bot_id", "GroupMe bot id keeps failing"


class BotHealthAlert(TenantOwnedModel):
    """One e-mailed bot health alert. The row is the claim, inserted before the e-mail is sent: the unique
    constraint lets one run (of any number running at once) send it, once per bot, condition and tenant-local day."""

    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="+")
    condition = models.CharField(max_length=20, choices=BotHealthCondition.choices)
    local_day = models.DateField(help_text="The day in the tenant's time zone.")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "condition", "local_day"], name="bot_health_alert_once_per_day"),
        ]
        indexes = [models.Index(fields=["tenant", "local_day"])]

    def __str__(self) -> str:
        return f"{self.condition} of {self.bot_id} on {self.local_day}"
