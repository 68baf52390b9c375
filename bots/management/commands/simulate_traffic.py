import contextlib
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bots.selectors import bot_get, bot_list
from bots.simulation import DeliveryTally, bot_traffic_simulate, groupme_for_inline_replies, pipeline_logs_quieted
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Send realistic GroupMe callbacks (chatter, commands, unknown commands, joins and leaves, repeats) to a "
        "tenant's active bots through their callback URLs; prints a one-line JSON summary. The same --seed sends "
        "the same messages again, which are answered as duplicates: use another seed for more traffic."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's slug")
        parser.add_argument("--bot", help="one bot's id (default: every active bot of the tenant)")
        parser.add_argument("--messages", type=int, default=500, help="distinct messages per bot")
        parser.add_argument("--members", type=int, default=40, help="members per group")
        parser.add_argument("--days", type=float, default=30, help="history window ending now")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--duplicate-rate", type=float, default=0.03, help="share of callbacks delivered twice")
        parser.add_argument(
            "--base-url", help="POST over HTTP to a running Botyard (e.g. http://127.0.0.1:8000) instead of in-process"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["messages"] < 0 or options["members"] < 1 or options["days"] <= 0:
            raise CommandError("--messages must be >= 0, --members >= 1 and --days > 0.")
        if not 0 <= options["duplicate_rate"] <= 1:
            raise CommandError("--duplicate-rate is a share between 0 and 1.")
        tenant = Tenant.objects.filter(slug=options["tenant"], is_active=True).first()
        if tenant is None:
            raise CommandError(f"No active tenant {options['tenant']!r}.")
        if options["bot"]:
            bot = bot_get(tenant=tenant, bot_id=options["bot"])
            if bot is None:
                raise CommandError(f"Tenant {tenant.slug!r} has no bot {options['bot']!r}.")
            bots = [bot]
        else:
            bots = list(bot_list(tenant=tenant).filter(is_active=True).order_by("created_at"))
        if not bots:
            raise CommandError(f"Tenant {tenant.slug!r} has no active bots.")

        base_url = options["base_url"]
        total = DeliveryTally()
        per_bot: dict[str, dict[str, Any]] = {}
        # Over HTTP the server answers the callbacks; in-process, this process may be the one posting replies.
        groupme = contextlib.nullcontext(None) if base_url else groupme_for_inline_replies()
        quiet = pipeline_logs_quieted() if options["verbosity"] < 2 else contextlib.nullcontext()
        with groupme as fake, quiet:
            for bot in bots:
                tally = bot_traffic_simulate(
                    bot=bot,
                    messages=options["messages"],
                    members=options["members"],
                    days=options["days"],
                    seed=f"{options['seed']}:{bot.pk}",
                    duplicate_rate=options["duplicate_rate"],
                    base_url=base_url,
                )
                total.add(tally)
                counts = {key: value for key, value in tally.as_json().items() if key != "by_kind"}
                per_bot[str(bot.pk)] = {"name": bot.name, **counts}
            fake_posts = len(fake.posts) if fake is not None else None
        summary = {
            "tenant": tenant.slug,
            "delivery": base_url or "in-process",
            **total.as_json(),
            "bots": per_bot,
            "fake_groupme_posts": fake_posts,
        }
        self.stdout.write(json.dumps(summary))
