import contextlib
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from bots.models import Bot
from bots.selectors import bot_list
from bots.services import bot_create, rule_create
from bots.simulation import DeliveryTally, bot_traffic_simulate, groupme_for_inline_replies, pipeline_logs_quieted
from groups.services import group_get_or_create
from tenants.models import Role, Tenant
from tenants.services import membership_grant, tenant_create, user_get_or_create

DEMO_EMAIL = "demo@botyard.localhost"
DEMO_PASSWORD = "botyard-demo"  # noqa: S105 - a published demo login, for a local demo database
DEMO_TENANTS = [
    # (name, time zone, currency, the demo user's role)
    ("Demo Community", "America/Chicago", "USD", Role.OWNER),
    ("Demo Sponsors Co", "Europe/Berlin", "EUR", Role.ANALYST),
]


@dataclass(frozen=True)
class DemoBot:
    name: str
    group_id: str
    group_name: str
    groupme_bot_id: str  # made up: the demo registers its bots by id (manual mode), GroupMe never sees them
    fallback_text: str
    members: int
    history_share: float  # of the demo's messages
    seed: int
    rules: tuple[dict[str, Any], ...]
    regex_examples: dict[str, tuple[str, ...]] = field(default_factory=dict)


PRICING_REGEX = r"\b(price|how much)\b.*\b(kayak|paddle ?board|bike)s?\b"
WEATHER_REGEX = r"\b(rain|storm|weather|lightning)\b.*\b(cancel+ed|still on)\b"

DEMO_BOTS = {
    "Demo Community": (
        DemoBot(
            name="Deal Hound",
            group_id="48210001",
            group_name="Lakeside Deals & Steals",
            groupme_bot_id="d3a1b2c4e5f60718293a4b5c6d",
            fallback_text="Sorry {name}, I don't know that one. Try !help.",
            members=45,
            history_share=0.6,
            seed=1,
            rules=(
                {
                    "name": "Help",
                    "kind": "command",
                    "pattern": "help",
                    "intent": "help",
                    "priority": 10,
                    "response": "Hi {name}! Try !deals for this week's offers, !coupon for a discount code, "
                    "or ask how much a kayak, paddleboard or bike rental is.",
                },
                {
                    "name": "Deals",
                    "kind": "command",
                    "pattern": "deals",
                    "intent": "deals",
                    "priority": 20,
                    "response": "This week: 20% off trail shoes at Lakeside Outfitters and 2-for-1 kayak rentals "
                    "before noon. Ends Sunday!",
                },
                {
                    "name": "Coupon",
                    "kind": "command",
                    "pattern": "coupon",
                    "intent": "coupon",
                    "priority": 30,
                    "response": "Here's your code, {name}: LAKESIDE10 (10% off, this week only).",
                },
                {
                    "name": "Rental prices",
                    "kind": "regex",
                    "pattern": PRICING_REGEX,
                    "intent": "pricing",
                    "priority": 40,
                    "response": "Rentals: kayaks $25/day, paddleboards $30/day, bikes $15/day.",
                },
                {
                    "name": "Pizza night",
                    "kind": "keyword",
                    "pattern": "pizza",
                    "intent": "pizza",
                    "priority": 50,
                    "response": "Pizza night is Friday at Marco's, 7pm. {name}, bring a friend!",
                },
            ),
            regex_examples={
                PRICING_REGEX: (
                    "how much is a kayak for the weekend?",
                    "what's the price of a paddle board?",
                    "How much are bikes on Saturday",
                    "price check on kayaks please",
                ),
            },
        ),
        DemoBot(
            name="Run Club Bot",
            group_id="48210002",
            group_name="Lakeside Runners",
            groupme_bot_id="7c9e41d2b8a35f60e1d24c7b9a",
            fallback_text="Not sure about that one, {name}. !schedule, !route and !join are what I know.",
            members=28,
            history_share=0.4,
            seed=2,
            rules=(
                {
                    "name": "Help",
                    "kind": "command",
                    "pattern": "help",
                    "intent": "help",
                    "priority": 10,
                    "response": "Hi {name}! !schedule for group runs, !route for this week's route, !join to sign up.",
                },
                {
                    "name": "Schedule",
                    "kind": "command",
                    "pattern": "schedule",
                    "intent": "schedule",
                    "priority": 20,
                    "response": "Group runs: Tue & Thu 6:30pm at the boathouse, long run Sat 7am.",
                },
                {
                    "name": "Route",
                    "kind": "command",
                    "pattern": "route",
                    "intent": "route",
                    "priority": 30,
                    "response": "This week's route: the 5-mile lakeshore loop. Map in the pinned post.",
                },
                {
                    "name": "Join",
                    "kind": "command",
                    "pattern": "join",
                    "intent": "signup",
                    "priority": 40,
                    "response": "Welcome aboard, {name}! Dues are optional; club shirts are $20.",
                },
                {
                    "name": "Weather",
                    "kind": "regex",
                    "pattern": WEATHER_REGEX,
                    "intent": "weather",
                    "priority": 50,
                    "response": "We run rain or shine; only lightning cancels. Watch this group for updates.",
                },
                {
                    "name": "Pizza",
                    "kind": "keyword",
                    "pattern": "pizza",
                    "intent": "pizza",
                    "priority": 60,
                    "response": "Post-run pizza is on the club this Saturday!",
                },
            ),
            regex_examples={
                WEATHER_REGEX: (
                    "rain all morning, is saturday cancelled?",
                    "storm tonight, is it still on?",
                    "weather looks rough, are we still on?",
                    "lightning again... run canceled?",
                ),
            },
        ),
    ),
}


class Command(BaseCommand):
    help = (
        "Create demo tenants, a demo login, and for Demo Community two bots with rules and a month of history "
        "made by driving the real callback pipeline (idempotent); prints how to log in."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--messages", type=int, default=1200, help="history: distinct messages over all bots")
        parser.add_argument("--days", type=float, default=30, help="history: how many days back it goes")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            user = user_get_or_create(email=options["email"], password=options["password"])
            tenants = []
            for name, time_zone, currency, role in DEMO_TENANTS:
                tenant = Tenant.objects.filter(name=name).first()
                if tenant is None:
                    tenant = tenant_create(
                        name=name, owner_email=user.email, time_zone=time_zone, default_currency=currency
                    ).tenant
                membership_grant(tenant=tenant, user=user, role=role)
                tenants.append(tenant)

        # History is written outside any transaction, one callback at a time, as live traffic is.
        quiet = pipeline_logs_quieted() if options["verbosity"] < 2 else contextlib.nullcontext()
        with groupme_for_inline_replies(), quiet:
            for tenant in tenants:
                self._seed_bots(tenant=tenant, messages=options["messages"], days=options["days"])
        self.stdout.write(f"Demo ready. Log in at /accounts/login/ as {user.email} with password {options['password']}")

    def _seed_bots(self, *, tenant: Tenant, messages: int, days: float) -> None:
        demo_bots = DEMO_BOTS.get(tenant.name, ())
        if not demo_bots:
            return
        if not bot_list(tenant=tenant).exists():
            with transaction.atomic():
                for demo_bot in demo_bots:
                    _demo_bot_create(tenant=tenant, demo_bot=demo_bot)
            rule_count = sum(len(demo_bot.rules) for demo_bot in demo_bots)
            self.stdout.write(f"{tenant.name}: created {len(demo_bots)} bots with {rule_count} rules.")
        else:
            self.stdout.write(f"{tenant.name}: has bots already; they and their rules are left as they are.")
        history = DeliveryTally()
        for demo_bot in demo_bots:
            bot = bot_list(tenant=tenant).filter(name=demo_bot.name).first()
            # A bot with messages has its history (message ids come from the seed: a replay would be duplicates).
            if bot is None or bot.messages.exists():
                continue
            history.add(
                bot_traffic_simulate(
                    bot=bot,
                    messages=round(messages * demo_bot.history_share),
                    members=demo_bot.members,
                    days=days,
                    seed=demo_bot.seed,
                    regex_examples=demo_bot.regex_examples,
                )
            )
        if history.sent:
            kinds = ", ".join(f"{counts['sent']} {kind}" for kind, counts in sorted(history.by_kind.items()))
            self.stdout.write(
                f"{tenant.name}: {days:g} days of history, {history.sent} callbacks ({kinds}); "
                f"{history.outcomes['accepted']} stored, {history.outcomes['duplicates']} repeats answered as "
                f"duplicates, {history.outcomes['refused'] + history.outcomes['failed']} refused or failed."
            )


def _demo_bot_create(*, tenant: Tenant, demo_bot: DemoBot) -> Bot:
    group_get_or_create(tenant=tenant, groupme_group_id=demo_bot.group_id, name=demo_bot.group_name)
    bot = bot_create(
        tenant=tenant,
        name=demo_bot.name,
        groupme_group_id=demo_bot.group_id,
        groupme_bot_id=demo_bot.groupme_bot_id,
        fallback_text=demo_bot.fallback_text,
    )
    for rule in demo_bot.rules:
        rule_create(bot=bot, **rule)
    return bot
