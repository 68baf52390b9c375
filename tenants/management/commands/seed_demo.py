from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from tenants.models import Role, Tenant
from tenants.services import membership_grant, tenant_create, user_get_or_create

DEMO_EMAIL = "demo@botyard.localhost"
DEMO_PASSWORD = "botyard-demo"  # noqa: S105 - a published demo login, for a local demo database
DEMO_TENANTS = [
    # (name, time zone, currency, the demo user's role)
    ("Demo Community", "America/Chicago", "USD", Role.OWNER),
    ("Demo Sponsors Co", "Europe/Berlin", "EUR", Role.ANALYST),
]


class Command(BaseCommand):
    help = "Create demo tenants and a demo login (idempotent) and print how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user = user_get_or_create(email=options["email"], password=options["password"])
        for name, time_zone, currency, role in DEMO_TENANTS:
            tenant = Tenant.objects.filter(name=name).first()
            if tenant is None:
                tenant = tenant_create(
                    name=name, owner_email=user.email, time_zone=time_zone, default_currency=currency
                ).tenant
            membership_grant(tenant=tenant, user=user, role=role)
        self.stdout.write(
            f"Demo ready. Log in at /accounts/login/ as {user.email} with password {options['password']}"
        )
