import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant, its owner (a dashboard login) and a first API key; prints one JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--password", help="the owner's dashboard password (new users only)")
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--currency", default="USD")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = tenant_create(
                name=options["name"],
                owner_email=options["owner_email"],
                password=options["password"],
                time_zone=options["time_zone"],
                default_currency=options["currency"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        line = {
            "tenant": created.tenant.slug,
            "tenant_id": str(created.tenant.id),
            "api_key": created.issued_key.raw_key,
        }
        self.stdout.write(json.dumps(line))
