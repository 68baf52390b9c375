"""A small load generator on the standard library: open loop at a fixed rate, or closed loop at a concurrency.

Open loop: request i is due at start + i / rate whatever happened before, and its latency is measured from that
due time, so a stalled server shows up as latency instead of silently slowing the generator down (no coordinated
omission). `send_lag` (actual send - due) tells whether the generator itself kept up.
"""

import http.client
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

HEADERS = {"Content-Type": "application/json", "User-Agent": "GroupMeBotNotifier/1.0"}


@dataclass
class Outcome:
    key: str  # what the request carried (a GroupMe message id), to check what the server stored
    status: int  # 0: no HTTP answer (connection error or timeout)
    due: float
    sent: float
    done: float


@dataclass
class RunResult:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU while the run lasted (the generator's cost)

    @property
    def wall_seconds(self) -> float:
        return self.finished - self.started


class _Connection:
    """One keep-alive connection that reopens itself when the server closes it (gunicorn's sync workers do)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def post(self, path: str, body: bytes) -> int:
        try:
            self.connection.request("POST", path, body=body, headers=HEADERS)
            response = self.connection.getresponse()
            response.read()
            if response.will_close:
                self.connection.close()
            return response.status
        except (OSError, http.client.HTTPException):
            self.connection.close()
            return 0


def percentiles_ms(values_s: Sequence[float], points: Sequence[float] = (50, 90, 95, 99, 99.9)) -> dict[str, float]:
    """Nearest-rank percentiles in milliseconds, plus mean and max."""
    if not values_s:
        return {}
    ordered = sorted(values_s)
    figures = {}
    for point in points:
        rank = max(0, min(len(ordered) - 1, math.ceil(point / 100 * len(ordered)) - 1))
        figures[f"p{point:g}"] = round(ordered[rank] * 1000, 3)
    figures["mean"] = round(sum(ordered) / len(ordered) * 1000, 3)
    figures["max"] = round(ordered[-1] * 1000, 3)
    return figures


def open_loop(
    *,
    host: str,
    port: int,
    path: str,
    body_for: Callable[[int], tuple[str, bytes]],
    rate: float,
    duration: float,
    threads: int = 32,
    timeout: float = 10.0,
    path_for: Callable[[int], str] | None = None,
) -> RunResult:
    """Sends round(rate * duration) requests, request i due at start + i / rate; waits for every answer.

    `path_for(i)`, when given, chooses each request's path (several bots, each with its own callback URL).
    """
    total = round(rate * duration)
    counter = itertools.count()
    lock = threading.Lock()
    result = RunResult()
    start = time.perf_counter() + 0.2  # let every thread reach its first wait

    def sender() -> None:
        connection = _Connection(host, port, timeout)
        mine: list[Outcome] = []
        while True:
            with lock:
                index = next(counter)
            if index >= total:
                break
            key, body = body_for(index)
            due = start + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            sent = time.perf_counter()
            status = connection.post(path_for(index) if path_for else path, body)
            mine.append(Outcome(key=key, status=status, due=due, sent=sent, done=time.perf_counter()))
        with lock:
            result.outcomes.extend(mine)

    _run_threads(sender, threads, result, start)
    return result


def closed_loop(
    *,
    host: str,
    port: int,
    path: str,
    bodies: Iterator[tuple[str, bytes]],
    concurrency: int,
    timeout: float = 10.0,
    path_for: Callable[[str], str] | None = None,
) -> RunResult:
    """Each of `concurrency` connections sends the next body as soon as its previous answer arrived.

    `path_for(key)`, when given, chooses each request's path from its key.
    """
    lock = threading.Lock()
    result = RunResult()
    start = time.perf_counter()

    def sender() -> None:
        connection = _Connection(host, port, timeout)
        mine: list[Outcome] = []
        while True:
            with lock:
                item = next(bodies, None)
            if item is None:
                break
            sent = time.perf_counter()
            status = connection.post(path_for(item[0]) if path_for else path, item[1])
            mine.append(Outcome(key=item[0], status=status, due=sent, sent=sent, done=time.perf_counter()))
        with lock:
            result.outcomes.extend(mine)

    _run_threads(sender, concurrency, result, start)
    return result


def _run_threads(target: Callable[[], None], count: int, result: RunResult, start: float) -> None:
    cpu_before = time.process_time()
    workers = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    result.cpu_seconds = time.process_time() - cpu_before
    result.started = start
    result.finished = max((outcome.done for outcome in result.outcomes), default=start)


def summarize(result: RunResult) -> dict[str, Any]:
    """Throughput, latency (from the due time) and service time percentiles, status counts, generator lag."""
    outcomes = result.outcomes
    statuses: dict[str, int] = {}
    for outcome in outcomes:
        statuses[str(outcome.status)] = statuses.get(str(outcome.status), 0) + 1
    ok = [outcome for outcome in outcomes if 200 <= outcome.status < 300]
    wall = result.wall_seconds
    return {
        "requests": len(outcomes),
        "ok": len(ok),
        "errors": len(outcomes) - len(ok),
        "statuses": dict(sorted(statuses.items())),
        "wall_seconds": round(wall, 3),
        "throughput_rps": round(len(ok) / wall, 1) if wall > 0 else 0.0,
        "latency_ms": percentiles_ms([outcome.done - outcome.due for outcome in outcomes]),
        "service_time_ms": percentiles_ms([outcome.done - outcome.sent for outcome in outcomes]),
        "send_lag_ms": percentiles_ms([max(0.0, outcome.sent - outcome.due) for outcome in outcomes]),
        "generator_cpu_seconds": round(result.cpu_seconds, 3),
    }
