"""Received -> reply accepted by GroupMe, through every real process: gunicorn, a Celery worker, Redis, PostgreSQL
and the fake GroupMe.

    .venv/bin/python bench/reply_latency.py [--web-workers 2] [--threads 8] [--celery-concurrency 2] [--rate 50]
                                            [--duration 30] [--saturation-connections 8] [--saturation-duration 10]

Starts on loopback: the fake GroupMe (`manage.py fake_groupme`, its own process), gunicorn with
config/gunicorn.conf.py (gthread, `--web-workers` x `--threads`), and `celery -A config worker` (prefork,
`--celery-concurrency` processes) on a queue of this run; no beat, so every reply comes through ingest's own
wake-up, not the sweeper. `--bots` bots in as many groups each answer `!ping` with `pong {name}`, and each
callback's sender name is its GroupMe message id, so every post the fake GroupMe records names its message.

a. **Fixed rate**: `--rate` commands/s for `--duration` s, open loop (each request due at start + i/rate).
b. **Saturation**: `--saturation-connections` closed-loop connections for `--saturation-duration` s: more than
   the worker can answer, so replies queue up; the drain shows the worker's throughput.

Per message: from the callback's 202 (received and stored) to the fake GroupMe accepting the reply post, the same
from the moment the callback was sent, and the application's own `response_time_ms` (received_at to the post's
2xx). Checks that every message got exactly one post. Writes bench/results/reply_latency-<UTC timestamp>.json.
"""

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402
from bench.callback_ingest import (  # noqa: E402
    VENV_BIN,
    CpuMeter,
    Gunicorn,
    bench_environment,
    database_prepare,
    free_port,
    redis_client,
    redis_purge,
    report_header,
)

RESULTS_DIR = ROOT / "bench" / "results"
TENANT_PREFIX = "Bench reply latency"
OWNER_DOMAIN = "reply-bench.localhost"
REPLY_PREFIX = "pong "
GOAL_P95_MS = 250.0


# --- Processes -------------------------------------------------------------------------------------------------------


class FakeGroupMeProcess:
    """`manage.py fake_groupme` in its own process: its request threads do not share a GIL with the load generator."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.port = free_port()
        self.command = [str(VENV_BIN / "python"), "manage.py", "fake_groupme", "--port", str(self.port)]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            self.command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.port}/v3"

    def request(self, method: str, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            return json.loads(response.read())
        finally:
            connection.close()

    def wait_ready(self, deadline_seconds: float = 30) -> None:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"fake GroupMe exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                self.request("GET", "/_fake/faults")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fake GroupMe did not start")

    def posts(self) -> list[dict[str, Any]]:
        return self.request("GET", "/_fake/posts")  # type: ignore[no-any-return]

    def clear(self) -> None:
        self.request("DELETE", "/_fake/posts")

    def stop(self) -> None:
        _stop(self.process)


class CeleryWorker:
    def __init__(self, *, concurrency: int, queue: str, environment: dict[str, str]) -> None:
        self.node = f"{queue}@localhost"
        self.command = [
            str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool", "prefork", "--concurrency", str(concurrency),
            "-Q", queue, "-n", self.node, "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "WARNING",
        ]  # fmt: skip
        self.log = Path(f"/tmp/bench-celery-{queue}.log")  # noqa: S108 - a log of this run, removed at the end
        self.process = subprocess.Popen(  # noqa: S603
            self.command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=self.log.open("wb"),
            start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, deadline_seconds: float = 60) -> None:
        from config.celery import app

        deadline = time.monotonic() + deadline_seconds
        while not app.control.ping(destination=[self.node], timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.process)
        self.log.unlink(missing_ok=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


# --- Fixture and rows ------------------------------------------------------------------------------------------------


def fixture_create(stamp: str, *, bots: int) -> dict[str, Any]:
    from bots.services import bot_create, rule_create
    from tenants.services import tenant_create

    creation = tenant_create(name=f"{TENANT_PREFIX} {stamp}", owner_email=f"owner-{stamp.lower()}@{OWNER_DOMAIN}")
    base = 80_000_000 + int(time.time()) % 10_000_000
    created = []
    for number in range(bots):
        group_id = str(base + number)
        bot = bot_create(
            tenant=creation.tenant, name=f"Bench bot {number}", groupme_group_id=group_id,
            groupme_bot_id=f"replybench{stamp.lower()}{number}",
        )  # fmt: skip
        rule_create(bot=bot, name="ping", kind="command", pattern="ping", response=REPLY_PREFIX + "{name}")
        created.append({"path": f"/hooks/groupme/{bot.callback_token}/", "group_id": group_id})
    return {"tenant": creation.tenant, "bots": created}


def callback_body(*, group_id: str, message_id: str) -> bytes:
    """A user's `!ping`; the sender's name is the message id, so the reply `pong <id>` names its message."""
    return json.dumps({
        "attachments": [], "avatar_url": None, "created_at": int(time.time()), "group_id": group_id,
        "id": message_id, "name": message_id, "sender_id": "4242", "sender_type": "user",
        "source_guid": f"guid-{message_id}", "system": False, "text": "!ping", "user_id": "4242",
    }).encode()  # fmt: skip


def rows_cleanup() -> dict[str, int]:
    """Every bench tenant of this benchmark (this run's and any a crashed run left), through the ORM's cascade."""
    from bots.models import Bot
    from tenants.models import Tenant, User

    tenant_ids = list(Tenant.objects.filter(name__startswith=TENANT_PREFIX).values_list("pk", flat=True))
    Bot.objects.filter(tenant_id__in=tenant_ids).delete()  # groups are PROTECTed by their bots
    deleted = Tenant.objects.filter(pk__in=tenant_ids).delete()[1]
    users = User.objects.filter(email__endswith=f"@{OWNER_DOMAIN}").delete()[0]
    return {"tenants": len(tenant_ids), "rows": sum(deleted.values()), "users": users}


def app_response_times(tenant: Any, message_ids: set[str]) -> dict[str, Any]:
    """The application's own figure (received_at -> GroupMe's 2xx), as the KPIs report it."""
    from bots.models import Interaction

    rows = Interaction.objects.filter(tenant=tenant, message__groupme_message_id__in=message_ids).values_list(
        "reply_status", "response_time_ms"
    )
    statuses = Counter(status for status, _ in rows)
    times = [ms / 1000 for status, ms in rows if status == "sent" and ms is not None]
    return {
        "interactions": len(rows),
        "reply_statuses": dict(statuses),
        "response_time_ms": loadgen.percentiles_ms(times),
    }


# --- Phases ----------------------------------------------------------------------------------------------------------


def wait_for_replies(fake: FakeGroupMeProcess, expected: set[str], *, deadline_seconds: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        posts = fake.posts()
        answered = {post["text"].removeprefix(REPLY_PREFIX) for post in posts}
        if expected <= answered or time.monotonic() > deadline:
            return posts
        time.sleep(0.5)


def latency_report(
    result: loadgen.RunResult, posts: list[dict[str, Any]], *, clock_offset: float, tenant: Any
) -> dict[str, Any]:
    """Per message: 202 -> post accepted, and sent -> post accepted; exactly one post per accepted message."""
    accepted = {outcome.key: outcome for outcome in result.outcomes if outcome.status == 202}
    posts_per_message = Counter(post["text"].removeprefix(REPLY_PREFIX) for post in posts)
    first_post: dict[str, float] = {}
    for post in sorted(posts, key=lambda post: post["received_at"]):
        first_post.setdefault(post["text"].removeprefix(REPLY_PREFIX), post["received_at"])
    from_accept, from_send = [], []
    for key, outcome in accepted.items():
        if key in first_post:
            from_accept.append(first_post[key] - (outcome.done + clock_offset))
            from_send.append(first_post[key] - (outcome.sent + clock_offset))
    post_times = sorted(first_post[key] for key in accepted if key in first_post)
    span = post_times[-1] - post_times[0] if len(post_times) > 1 else 0.0
    return {
        "accepted_202": len(accepted),
        "replied": len(from_accept),
        "missing_replies": len(set(accepted) - set(first_post)),
        "duplicate_posts": sum(count - 1 for key, count in posts_per_message.items() if key in accepted and count > 1),
        "unexpected_posts": sum(count for key, count in posts_per_message.items() if key not in accepted),
        "received_to_reply_accepted_ms": loadgen.percentiles_ms(from_accept),
        "sent_to_reply_accepted_ms": loadgen.percentiles_ms(from_send),
        "replies_per_second": round((len(post_times) - 1) / span, 1) if span > 0 else None,
        "application": app_response_times(tenant, set(accepted)),
    }


def run_phase(
    name: str, *, fake: FakeGroupMeProcess, server: Gunicorn, worker: CeleryWorker, database: str,
    fixture: dict[str, Any], load: Any, drain_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    fake.clear()
    roots = {"celery_worker": worker.process.pid, "fake_groupme": fake.process.pid}
    meter = CpuMeter(server, database, extra_roots=roots)
    clock_offset = time.time() - time.perf_counter()
    result = load()
    ingest = loadgen.summarize(result)
    expected = {outcome.key for outcome in result.outcomes if outcome.status == 202}
    drain_started = time.monotonic()
    posts = wait_for_replies(fake, expected, deadline_seconds=drain_seconds)
    report = {
        "ingest": ingest,
        "drain_seconds_after_load": round(time.monotonic() - drain_started, 1),
        "cpu_cores": meter.cores(),
        **latency_report(result, posts, clock_offset=clock_offset, tenant=fixture["tenant"]),
    }
    latency = report["received_to_reply_accepted_ms"]
    print(
        f"{name}: ingest {ingest['throughput_rps']:.0f}/s (errors {ingest['errors']}), replies {report['replied']}/"
        f"{report['accepted_202']} (duplicates {report['duplicate_posts']}), received->reply p50 "
        f"{latency.get('p50', 0):.1f} p95 {latency.get('p95', 0):.1f} p99 {latency.get('p99', 0):.1f} ms, "
        f"replies/s {report['replies_per_second']}, cores {report['cpu_cores']}"
    )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker (default 8)")
    parser.add_argument("--celery-concurrency", type=int, default=2, help="Celery prefork processes (default 2)")
    parser.add_argument("--bots", type=int, default=20, help="bots, each in its own group (default 20)")
    parser.add_argument("--rate", type=float, default=50, help="commands/s in the fixed-rate phase (default 50)")
    parser.add_argument("--duration", type=float, default=30, help="seconds of the fixed-rate phase (default 30)")
    parser.add_argument("--saturation-connections", type=int, default=8)
    parser.add_argument("--saturation-duration", type=float, default=10, help="0: no saturation phase")
    parser.add_argument("--saturation-max-messages", type=int, default=3000)
    parser.add_argument("--drain-seconds", type=float, default=240, help="longest wait for the replies of a phase")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botyard_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--queue", default="bench-reply-latency", help="Celery queue of this run (purged after)")
    parser.add_argument("--keep-rows", action="store_true")
    args = parser.parse_args(argv)

    environment = bench_environment(args)
    # One group's bot answering 50 commands a second would trip the loop breaker (60 replies a minute) at once;
    # the load is spread over --bots groups and the limit raised so that the breaker never decides the figures.
    environment["BOTS_LOOP_MAX_REPLIES_PER_MINUTE"] = "1000000"
    os.environ.clear()
    os.environ.update(environment)
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    database_prepare(args.database_url, environment)

    fake = FakeGroupMeProcess(environment)
    environment["GROUPME_API_URL"] = os.environ["GROUPME_API_URL"] = fake.base_url

    import django

    django.setup()
    redis = redis_client(args.redis_url)
    report: dict[str, Any] = {
        **report_header(benchmark="reply_latency", started_at=started_at, args=args, environment=environment),
        "leftovers_before": {"rows": rows_cleanup(), "redis_keys": redis_purge(redis, args.queue)},
    }
    database = urlsplit(args.database_url).path.lstrip("/")
    fixture = fixture_create(stamp, bots=args.bots)
    bots = fixture["bots"]
    server = worker = None
    status = 1
    try:
        fake.wait_ready()
        from django.db import connections

        connections.close_all()
        server = Gunicorn(
            worker_class=args.worker_class, workers=args.web_workers, threads=args.threads, environment=environment
        )
        worker = CeleryWorker(concurrency=args.celery_concurrency, queue=args.queue, environment=environment)
        server.wait_healthy()
        worker.wait_ready()
        report["processes"] = {
            "gunicorn": " ".join(server.command), "celery_worker": " ".join(worker.command),
            "fake_groupme": " ".join(fake.command),
        }  # fmt: skip
        print(
            f"gunicorn {args.worker_class} x{args.web_workers} ({server.config['threads']} threads), celery prefork "
            f"x{args.celery_concurrency}, {args.bots} bots: up"
        )

        def body_for(prefix: str) -> Any:
            def body(number: int) -> tuple[str, bytes]:
                message_id = f"{prefix}{number:010d}"
                return message_id, callback_body(group_id=bots[number % len(bots)]["group_id"], message_id=message_id)

            return body

        def path_of_number(number: int) -> str:
            return str(bots[number % len(bots)]["path"])

        def path_of_key(key: str) -> str:
            return path_of_number(int(key[-10:]))

        def open_loop(prefix: str, rate: float, duration: float) -> Any:
            return lambda: loadgen.open_loop(
                host="127.0.0.1", port=server.port, path="", body_for=body_for(prefix), rate=rate,
                duration=duration, threads=16, path_for=path_of_number,
            )  # fmt: skip

        def closed_loop(prefix: str) -> Any:
            def bodies() -> Iterator[tuple[str, bytes]]:
                end = time.perf_counter() + args.saturation_duration
                make = body_for(prefix)
                for number in range(args.saturation_max_messages):
                    if time.perf_counter() > end:
                        return
                    yield make(number)

            return lambda: loadgen.closed_loop(
                host="127.0.0.1", port=server.port, path="", bodies=bodies(),
                concurrency=args.saturation_connections, path_for=path_of_key,
            )  # fmt: skip

        common = {"fake": fake, "server": server, "worker": worker, "database": database, "fixture": fixture}
        report["warm_up"] = run_phase("warm-up 10/s x 3 s", load=open_loop("W", 10, 3), drain_seconds=60, **common)
        report["fixed_rate"] = {
            "rate": args.rate, "duration_s": args.duration,
            **run_phase(f"fixed {args.rate:g}/s x {args.duration:g} s", load=open_loop("F", args.rate, args.duration),
                        drain_seconds=args.drain_seconds, **common),
        }  # fmt: skip
        phases = ["fixed_rate"]
        if args.saturation_duration > 0:
            report["saturation"] = {
                "connections": args.saturation_connections, "duration_s": args.saturation_duration,
                **run_phase(f"saturation c={args.saturation_connections}", load=closed_loop("S"),
                            drain_seconds=args.drain_seconds, **common),
            }  # fmt: skip
            phases.append("saturation")
        fixed = report["fixed_rate"]
        complete = all(
            report[phase]["missing_replies"] == 0 and report[phase]["duplicate_posts"] == 0 for phase in phases
        )
        worker_cores = fixed["cpu_cores"]["celery_worker"]
        report["worker_cpu_ms_per_reply_at_fixed_rate"] = (
            round(worker_cores / fixed["replies_per_second"] * 1000, 1) if fixed["replies_per_second"] else None
        )
        report["goals"] = {
            "rate": args.rate,
            "p95_received_to_reply_ms_at_fixed_rate": fixed["received_to_reply_accepted_ms"].get("p95"),
            "p95_goal_250ms_met": args.rate >= 50
            and fixed["received_to_reply_accepted_ms"].get("p95", 1e9) <= GOAL_P95_MS,
            "every_message_answered_once": complete,
        }
        status = 0 if complete else 1
    finally:
        for process in (server, worker):
            if process is not None:
                process.stop()
        fake.stop()
        if not args.keep_rows:
            report["cleanup"] = {"rows": rows_cleanup(), "redis_keys": redis_purge(redis, args.queue)}
        report["load_average_at_end"] = os.getloadavg()
        report["finished_at"] = datetime.now(UTC).isoformat()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        output = RESULTS_DIR / f"reply_latency-{stamp}.json"
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nresults: {output.relative_to(ROOT)}")
    print(f"goals: {report.get('goals')}")
    return status


if __name__ == "__main__":
    sys.exit(main())
