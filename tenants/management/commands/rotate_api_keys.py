import json
from typing import Any

from django.core.management.base import BaseCommand

from tenants.services import api_keys_lifecycle_run


class Command(BaseCommand):
    help = "Run the scheduled API-key job now: record expiries, end grace periods, send expiry notices."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(api_keys_lifecycle_run().__dict__))
