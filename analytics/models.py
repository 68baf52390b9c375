from typing import Any

from django.db import models

from tenants.models import Tenant, TenantOwnedModel

DAYS_IN_A_YEAR = 366  # a leap year's: day 366 of a common year is never set


class YearDayBits(models.Field):  # type: ignore[type-arg]
    """A bit per day of a calendar year, as text of "0"s and "1"s in Python. PostgreSQL stores it as `bit(366)`:
    46 bytes, where a byte per day made member-year rows (and every read of them) twice as large. Other databases
    (zero-config SQLite) keep the text."""

    description = "a bit per day of a year"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", "0" * DAYS_IN_A_YEAR)
        super().__init__(*args, **kwargs)

    def db_type(self, connection: Any) -> str:
        return f"bit({DAYS_IN_A_YEAR})" if connection.vendor == "postgresql" else "text"

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("default") == "0" * DAYS_IN_A_YEAR:
            del kwargs["default"]
        return name, path, args, kwargs


class DailyRollup(TenantOwnedModel):
    """Every KPI figure of one tenant-local day for one bot and group (both null: money nobody's interaction earned).

    Rebuilt whole from raw rows, never incremented: running the rebuild twice, or again after a crash, gives the
    same row. Response times are a histogram over fixed buckets (analytics.histogram), so percentiles over any
    range come from merged buckets instead of re-reading interactions.
    """

    # An integer key the database assigns, so a span of days is written by one INSERT … SELECT.
    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
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


class IntentRollup(TenantOwnedModel):
    """Interactions of one tenant-local day, bot, group and intent ("" for no rule's intent): top intents over any
    range read these rows, not the interactions."""

    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    day = models.DateField()
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    intent = models.CharField(max_length=64, blank=True)
    interactions = models.PositiveIntegerField(default=0)
    unhandled = models.PositiveIntegerField(default=0)
    sentiment_sum = models.FloatField(default=0.0)

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"])]


class IntentRevenue(TenantOwnedModel):
    """The conversions of one tenant-local day in one currency attributed to interactions of one bot, group and
    intent (all three null: money no interaction earned). A row per currency, so any range's money per intent or
    group is summed by the database."""

    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    day = models.DateField()
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    intent = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - null: no interaction, "": no intent
    currency = models.CharField(max_length=3)
    purchases = models.PositiveIntegerField(default=0)
    net = models.BigIntegerField(default=0, help_text="Net minor units, refunds subtracted.")

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"])]


class FunnelRollup(TenantOwnedModel):
    """The conversion funnel of the human clicks made on one tenant-local day on the replies of one bot in one group
    (both null: a link not clicked from a bot's reply): how many of those clicks reached a signup, a checkout and a
    purchase (a conversion of that step or a later one attributed to the click, within its source's window, whenever
    it came), the conversions of each of those outcomes, and the purchases' money per currency.

    A click belongs to one day, bot and group, so the funnel of any range is a sum of these rows, where counting it
    from the conversions read every one attributed to the range's clicks. Rebuilt with the day's other rollups, and
    again when a conversion arrives for a click of that day or a source's window changes (analytics.services).
    """

    id = models.BigAutoField(primary_key=True)  # type: ignore[assignment]
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)  # (tenant, day)
    day = models.DateField(help_text="The tenant-local day of the clicks.")
    bot = models.ForeignKey("bots.Bot", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    signups_reached = models.PositiveIntegerField(default=0)
    checkouts_reached = models.PositiveIntegerField(default=0)
    purchases_reached = models.PositiveIntegerField(default=0)
    signups = models.PositiveIntegerField(default=0)
    checkouts = models.PositiveIntegerField(default=0)
    purchases = models.PositiveIntegerField(default=0)
    purchase_revenue = models.JSONField(default=dict, help_text="Currency -> the purchases' minor units.")

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"])]


class MemberYear(TenantOwnedModel):
    """A member's active days of one tenant-local calendar year, one byte per day of the year (b"1" where the member
    sent a message that day, b"0" elsewhere; day 1 of January is the first byte), and in `interaction_days` (bits)
    the days one of those messages became an interaction. The only stored record of who was active (or engaged)
    when: the rebuild makes a span's member-days in a temporary table and keeps them here.

    Distinct active members over any range are then one read of the scope's member-years with a byte search in
    each, not an index probe per member into a table of member-days: a year and its previous year for 2,000 members
    in 3.4 ms of PostgreSQL's time, where the probes took 11-13 ms.
    """

    YEAR_DAYS = DAYS_IN_A_YEAR

    id = None  # type: ignore[assignment]
    pk = models.CompositePrimaryKey("tenant", "year", "member")
    # Derived rows, rewritten by the rebuild: no database foreign-key checks.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    year = models.PositiveSmallIntegerField()
    group = models.ForeignKey(
        "groups.Group", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    member = models.ForeignKey("groups.Member", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    days = models.BinaryField(max_length=YEAR_DAYS)
    # A bit per day, 1 where the member had an interaction with a bot (a subset of `days`): engaged members of a range.
    interaction_days = YearDayBits()


class ActiveMembers(TenantOwnedModel):
    """Distinct active members of one group in one whole day, ISO week or calendar month, counted by the rebuild
    (days, weeks and months alike from the member-years). A member belongs to one group, so a tenant's figure for a
    period is the sum over its groups; series over a year read a few hundred of these rows instead of counting half
    a million member-days."""

    class Granularity(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"

    id = None  # type: ignore[assignment]
    pk = models.CompositePrimaryKey("tenant", "granularity", "period", "group")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    granularity = models.CharField(max_length=5, choices=Granularity.choices)
    period = models.DateField(help_text="The first day of the day, week (Monday) or month.")
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="+")
    members = models.PositiveIntegerField()


class MemberFirstDay(TenantOwnedModel):
    """The tenant-local day a member was first active (their earliest member-day): the cohort they belong to.
    Kept by the rebuild for the members a span touched, so retention never looks a member's history up per row."""

    id = None  # type: ignore[assignment]
    member = models.OneToOneField(
        "groups.Member", on_delete=models.CASCADE, primary_key=True, related_name="first_active", db_constraint=False
    )
    group = models.ForeignKey(
        "groups.Group", on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    day = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "day"])]


class RetentionCell(TenantOwnedModel):
    """How many members of one group whose first active day falls in the ISO week `cohort` were active in the
    week `weeks_after` weeks later. A member belongs to one group, so a tenant's cell is the sum over its groups, and
    the retention table over a year reads a few hundred of these instead of half a million member-days."""

    id = None  # type: ignore[assignment]
    pk = models.CompositePrimaryKey("tenant", "cohort", "weeks_after", "group")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    cohort = models.DateField(help_text="Monday of the week of the members' first active day.")
    weeks_after = models.PositiveSmallIntegerField(help_text="0 is the cohort's own week.")
    week = models.DateField(help_text="Monday of the week counted: cohort + weeks_after weeks.")
    group = models.ForeignKey("groups.Group", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    members = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "week"])]


# Every table the KPI job derives from raw rows: a full rebuild empties a tenant's share of each and refills it.
KPI_DERIVED_MODELS: tuple[type[TenantOwnedModel], ...] = (
    DailyRollup,
    MemberYear,
    ActiveMembers,
    IntentRollup,
    IntentRevenue,
    FunnelRollup,
    MemberFirstDay,
    RetentionCell,
)


class AggregationWatermark(models.Model):
    """How far the KPI job has read each tenant's raw rows; a day touched after it is rebuilt on the next run."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+")
    read_through = models.DateTimeField(help_text="Rows created before this were rolled up.")
    time_zone = models.CharField(max_length=64, help_text="The zone the days were cut in; a change rebuilds all.")
    funnel_windows = models.JSONField(
        default=dict, help_text="Source id -> the attribution window the funnel rollups used; a change rebuilds them."
    )
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
