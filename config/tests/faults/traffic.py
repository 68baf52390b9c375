"""Background load on a running Botyard, recorded answer by answer, for the fault scenarios.

Paced senders of GroupMe callbacks, API reads and health probes; every answer is kept with the phase of the
scenario it was sent in ("before", "outage", "after"), its status, latency, Retry-After and a bit of its body.
"""

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests

from bots.models import Bot
from bots.tests.callbacks import callback_payload

CALLBACK_HEADERS = {"User-Agent": "GroupMeBotNotifier/1.0"}
REQUEST_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Answer:
    kind: str  # "callback", "api" or "health"
    phase: str
    sent_at: float  # time.monotonic()
    seconds: float
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    key: str = ""  # a callback's GroupMe message id
    text: str = ""  # a callback's text
    body: str = ""
    retry_after: str | None = None


class Traffic:
    """Callbacks from `callback_threads` senders (one in `command_every` is `!help`), API reads and health probes."""

    def __init__(
        self,
        *,
        base_url: str,
        bot: Bot,
        api_key: str,
        id_prefix: str,
        callback_threads: int = 4,
        callback_interval: float = 0.1,
        api_interval: float = 0.2,
        health_interval: float = 0.5,
        command_every: int = 3,
    ) -> None:
        self.base_url = base_url
        self.bot = bot
        self.callback_url = f"{base_url}/hooks/groupme/{bot.callback_token}/"
        self.api_key = api_key
        self.id_prefix = id_prefix
        self.command_every = command_every
        self.phase = "before"
        self._numbers = itertools.count(1)
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            *(self._thread(self._callback_once, callback_interval) for _ in range(callback_threads)),
            self._thread(self._api_once, api_interval),
            self._thread(self._health_once, health_interval),
        ]

    def _thread(self, action: Callable[[requests.Session], None], interval: float) -> threading.Thread:
        def loop() -> None:
            session = requests.Session()
            while not self._stop.is_set():
                action(session)
                self._stop.wait(interval)

        return threading.Thread(target=loop, daemon=True, name="fault-traffic")

    def start(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)

    # -- senders ---------------------------------------------------------------------------------------------------

    def _send(self, kind: str, session: requests.Session, method: str, url: str, **options: Any) -> None:
        phase, sent_at = self.phase, time.monotonic()
        key, text = options.pop("key", ""), options.pop("text", "")
        try:
            response = session.request(method, url, timeout=REQUEST_TIMEOUT_SECONDS, **options)
            status, body, retry_after = response.status_code, response.text[:300], response.headers.get("Retry-After")
        except requests.RequestException as exc:
            status, body, retry_after = 0, repr(exc)[:300], None
        answer = Answer(kind=kind, phase=phase, sent_at=sent_at, seconds=time.monotonic() - sent_at, status=status,
                        key=key, text=text, body=body, retry_after=retry_after)  # fmt: skip
        with self._lock:
            self._answers.append(answer)

    def _callback_once(self, session: requests.Session) -> None:
        number = next(self._numbers)
        key = f"{self.id_prefix}{number}"
        text = "!help" if number % self.command_every == 0 else f"chatter {number}"
        self.send_callback(session, key=key, text=text)

    def send_callback(self, session: requests.Session, *, key: str, text: str) -> None:
        payload = callback_payload(self.bot, id=key, text=text, name=f"M{key}")
        self._send("callback", session, "POST", self.callback_url, json=payload, headers=CALLBACK_HEADERS,
                   key=key, text=text)  # fmt: skip

    def _api_once(self, session: requests.Session) -> None:
        self._send("api", session, "GET", f"{self.base_url}/api/v1/interactions/",
                   headers={"Authorization": f"Api-Key {self.api_key}"})  # fmt: skip

    def _health_once(self, session: requests.Session) -> None:
        self._send("health", session, "GET", f"{self.base_url}/health/")

    # -- what was answered -----------------------------------------------------------------------------------------

    def answers(self, kind: str, phase: str | None = None) -> list[Answer]:
        with self._lock:
            return [a for a in self._answers if a.kind == kind and (phase is None or a.phase == phase)]

    def statuses(self, kind: str, phase: str | None = None) -> Counter[int]:
        return Counter(answer.status for answer in self.answers(kind, phase))

    def wait_for(self, kind: str, count: int, *, phase: str | None = None, statuses: Iterable[int] = (),
                 timeout: float = 30) -> None:  # fmt: skip
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for a in self.answers(kind, phase) if not wanted or a.status in wanted) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{count} {kind} answers {sorted(wanted)} in phase {phase}: {self.statuses(kind, phase)}")


def seconds_summary(answers: list[Answer]) -> dict[str, float]:
    """Median and worst latency of some answers, in milliseconds."""
    ordered = sorted(answer.seconds for answer in answers)
    if not ordered:
        return {}
    return {"p50_ms": round(ordered[len(ordered) // 2] * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}
