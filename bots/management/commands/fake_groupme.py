import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bots.fake_groupme import DEFAULT_TOKEN, FakeGroupMe


class Command(BaseCommand):
    help = "Run the fake GroupMe API in the foreground until Ctrl-C; prints the GROUPME_API_URL to use."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--echo-bot-posts",
            action="store_true",
            help="deliver bot posts to the callback URLs of the group's bots, as GroupMe does",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fake = FakeGroupMe(host=options["host"], port=options["port"], echo_bot_posts=options["echo_bot_posts"])
        try:
            fake.start()
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['host']}:{options['port']}: {exc}") from exc
        self.stdout.write(f"GROUPME_API_URL={fake.base_url}")
        self.stdout.write(f"Fake GroupMe is up: user token {DEFAULT_TOKEN!r}, control API under /_fake/, Ctrl-C stops.")
        try:
            # The server runs in its own thread; the main thread only waits here for Ctrl-C.
            threading.Event().wait()
        except KeyboardInterrupt:
            self.stdout.write("Stopping the fake GroupMe.")
        finally:
            fake.stop()
