import json
import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services import kpi_aggregate_tenant
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Roll up KPIs now: what the scheduler's KPI job does (incremental from each tenant's watermark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="one tenant's slug (default: every active tenant)")
        parser.add_argument("--since", type=date.fromisoformat, help="rebuild every day from YYYY-MM-DD to today")
        parser.add_argument("--full", action="store_true", help="rebuild every day that has data")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.filter(is_active=True).order_by("pk")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No active tenant with slug {options['tenant']!r}.")
        interactive = sys.stderr.isatty()
        for tenant in tenants:

            def progress(done: int, total: int, slug: str = tenant.slug) -> None:
                if interactive or done == total:
                    filled = int(30 * done / total) if total else 30
                    end = "\n" if done == total else "\r"
                    self.stderr.write(f"{slug}: [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} days", ending=end)

            report = kpi_aggregate_tenant(
                tenant=tenant, full=options["full"], since=options["since"], progress=progress
            )
            self.stdout.write(json.dumps(vars(report)))
