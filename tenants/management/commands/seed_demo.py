import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from bots.models import Bot
from bots.selectors import bot_list, rule_list
from bots.services import bot_create, rule_create, rule_update
from bots.simulation import DeliveryTally, bot_traffic_simulate, groupme_for_inline_replies, pipeline_logs_quieted
from groups.services import group_get_or_create
from monetization.demo_money import (
    DemoCreative,
    DemoLink,
    DemoMoneyPlan,
    DemoSource,
    demo_money_setup,
    demo_money_simulate,
    demo_money_summary,
)
from monetization.models import MonetizationSource
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
    rules: tuple[dict[str, Any], ...]  # rule_create's fields; "link" names one of the tenant's DemoLinks
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
                    "before noon. Ends Sunday! {link}",
                    "link": "Lakeside weekly deals",
                },
                {
                    "name": "Coupon",
                    "kind": "command",
                    "pattern": "coupon",
                    "intent": "coupon",
                    "priority": 30,
                    "response": "Here's your code, {name}: LAKESIDE10 (10% off, this week only). Shop: {link}",
                    "link": "Lakeside coupon",
                },
                {
                    "name": "Rental prices",
                    "kind": "regex",
                    "pattern": PRICING_REGEX,
                    "intent": "pricing",
                    "priority": 40,
                    "response": "Rentals: kayaks $25/day, paddleboards $30/day, bikes $15/day. Book ahead: {link}",
                    "link": "Lakeside rentals",
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
                    "response": "Welcome aboard, {name}! Dues are optional; club shirts are $20. Chip in to the "
                    "Community Fund: {link}",
                    "link": "Community Fund",
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


LAKESIDE_SHOP = "https://lakeside-outfitters.example.com"
GROUPME_UTM = "utm_source=groupme&utm_medium=bot"
Kind = MonetizationSource.Kind

DEMO_MONEY = {
    "Demo Community": DemoMoneyPlan(
        sources=(
            # A 45-day window: longer than the history, so every click in it can still be converted (the
            # postback is attributed when it arrives, i.e. now).
            DemoSource(
                name="Lakeside Outfitters",
                kind=Kind.AFFILIATE,
                attribution_window_days=45,
                details={"program": "Lakeside Partners", "commission": "8% of each sale", "currency": "USD"},
            ),
            DemoSource(
                name="Marco's Pizza",
                kind=Kind.SPONSORSHIP,
                attribution_window_days=45,
                details={"deal": "a reply-mode line in both groups; $2 per loyalty-club signup", "currency": "USD"},
            ),
            DemoSource(name="Community Fund", kind=Kind.DONATION, details={"provider": "stripe", "currency": "USD"}),
            DemoSource(
                name="Lakeside Runners Plus",
                kind=Kind.SUBSCRIPTION,
                details={"provider": "stripe", "price": "4.99 USD a month", "currency": "USD"},
            ),
        ),
        links=(
            DemoLink(
                name="Lakeside weekly deals",
                source="Lakeside Outfitters",
                destination_url=f"{LAKESIDE_SHOP}/deals?{GROUPME_UTM}&utm_campaign=weekly-deals",
            ),
            # The affiliate network reads its own parameter name for the click id.
            DemoLink(
                name="Lakeside coupon",
                source="Lakeside Outfitters",
                click_param="subid",
                destination_url=f"{LAKESIDE_SHOP}/coupon/LAKESIDE10?{GROUPME_UTM}&utm_campaign=coupon",
            ),
            DemoLink(
                name="Lakeside rentals",
                source="Lakeside Outfitters",
                destination_url=f"{LAKESIDE_SHOP}/rentals?{GROUPME_UTM}&utm_campaign=rentals",
            ),
            DemoLink(
                name="Marco's loyalty club",
                source="Marco's Pizza",
                destination_url=f"https://marcos-pizza.example.com/club?{GROUPME_UTM}&utm_campaign=slices",
            ),
            DemoLink(
                name="Community Fund",
                source="Community Fund",
                destination_url=f"https://donate.example.org/lakeside-community-fund?{GROUPME_UTM}",
            ),
        ),
        creatives=(
            DemoCreative(
                name="Weeknight slices",
                source="Marco's Pizza",
                link="Marco's loyalty club",
                text="Two slices and a soda for $6 on weeknights. Join the club for a free garlic knot:",
            ),
        ),
        seed=1,
    ),
}


class Command(BaseCommand):
    help = (
        "Create demo tenants, a demo login, and for Demo Community two bots with rules, money sources, links and a "
        "sponsor, and a month of history made by driving the real callback, click, postback and payment endpoints "
        "(idempotent); prints how to log in."
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
            self.stdout.write(f"{tenant.name}: has bots already; they and their rules are kept.")
        self._seed_money_setup(tenant=tenant, demo_bots=demo_bots, days=days)
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
        self._seed_money_traffic(tenant=tenant, days=days)

    def _seed_money_setup(self, *, tenant: Tenant, demo_bots: tuple[DemoBot, ...], days: float) -> None:
        """Sources, links and the sponsor's creative, once; the rules that offer a link get it (before the history
        is replayed, so that the replies carry short URLs)."""
        plan = DEMO_MONEY.get(tenant.name)
        if plan is None:
            return
        with transaction.atomic():
            setup = demo_money_setup(
                tenant=tenant, plan=plan, creatives_start=timezone.now() - timedelta(days=days + 1)
            )
            if not setup.created:
                return
            linked = 0
            for demo_bot in demo_bots:
                bot = bot_list(tenant=tenant).filter(name=demo_bot.name).first()
                if bot is None:
                    continue
                rules = {rule.name: rule for rule in rule_list(tenant=tenant, bot=bot)}
                for planned in demo_bot.rules:
                    rule = rules.get(planned["name"])
                    if "link" in planned and rule is not None and rule.link_id is None:
                        rule_update(rule=rule, link=setup.links[planned["link"]], response=planned["response"])
                        linked += 1
        self.stdout.write(
            f"{tenant.name}: created {len(plan.sources)} money sources, {len(plan.links)} links and "
            f"{len(plan.creatives)} sponsored creative(s); {linked} rules reply with a link."
        )

    def _seed_money_traffic(self, *, tenant: Tenant, days: float) -> None:
        plan = DEMO_MONEY.get(tenant.name)
        if plan is None:
            return
        tally = demo_money_simulate(tenant=tenant, plan=plan, since=timezone.now() - timedelta(days=days))
        if tally.sent:
            self.stdout.write(f"{tenant.name}: money traffic through the public endpoints: {tally.line()}.")
        for answer in tally.unexpected:
            self.stderr.write(f"{tenant.name}: unexpected answer: {answer}")
        summary = demo_money_summary(tenant=tenant)
        self.stdout.write(f"{tenant.name}: money: {summary.line()}.")
        if not summary.human_clicks + summary.preview_clicks:
            self.stdout.write(
                f"{tenant.name}: no reply carries a short URL (the history predates the links); seed a fresh "
                "database for clicks and the conversions that follow them."
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
        # Links are the money setup's, attached right after (rule_update); the response already has {link}.
        rule_create(bot=bot, **{name: value for name, value in rule.items() if name != "link"})
    return bot
