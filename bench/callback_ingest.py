"""Benchmark of GroupMe's callback path, POST /hooks/groupme/<token>/, against a bare Django view on the same stack.

    .venv/bin/python bench/callback_ingest.py [--workers 2] [--worker-classes sync,gthread] [--duration 15]
                                              [--rate 100] [--connections 16,32] [--duplicates 1000]

Starts gunicorn on a free loopback port with DJANGO_SETTINGS_MODULE=bench.settings against a dedicated database
(created and migrated here) and a Redis database used by nothing else; no Celery worker runs, so every accepted
message stays in the outbox and its task in the bench queue. Per worker class it measures a fixed rate (Python
open-loop generator), saturation at fixed concurrencies (wrk) for the callback and for the bare view, and a
duplicate-heavy run; then checks what was stored against what was accepted, purges the queue and the rows, and
writes bench/results/callback_ingest-<UTC timestamp>.json. Ratios compare figures measured minutes apart in the
same run: absolute figures drift on shared machines, ratios much less.
"""

import argparse
import base64
import hashlib
import io
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadgen  # noqa: E402

VENV_BIN = Path(sys.executable).parent
REPORTED_SETTINGS = (
    "DJANGO_SETTINGS_MODULE", "DEBUG", "SECURE_SSL_REDIRECT", "LOG_LEVEL", "DATABASE_URL", "REDIS_URL",
    "CELERY_TASK_DEFAULT_QUEUE",
)  # fmt: skip
RESULTS_DIR = ROOT / "bench" / "results"
LUA_SCRIPT = ROOT / "bench" / "callback.lua"
GUNICORN_CONFIG = ROOT / "config" / "gunicorn.conf.py"  # production's; the flags below override it
BARE_PATH = "/bench/bare/"
TENANT_PREFIX = "Bench callback ingest"
OWNER_DOMAIN = "bench.localhost"


def bench_environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment of gunicorn and of this process's Django: production defaults except what loopback needs."""
    field_key = base64.urlsafe_b64encode(hashlib.sha256(b"botyard-bench-field-encryption").digest()).decode()
    environment = dict(os.environ)
    for variable in ("CELERY_BROKER_URL", "EMAIL_URL", "TRUST_X_FORWARDED_PROTO", "DATABASE_CONN_MAX_AGE"):
        environment.pop(variable, None)
    environment.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789abcdefghijklmnop",  # noqa: S106
        FIELD_ENCRYPTION_KEY=field_key,
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_BASE_URL="http://127.0.0.1",
        GROUPME_API_URL="http://127.0.0.1:9/v3",  # nothing on the ingest path calls GroupMe; if it did, it stays local
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        CELERY_TASK_DEFAULT_QUEUE=args.queue,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return environment


# --- Services: database, Redis -------------------------------------------------------------------------------------


def database_prepare(database_url: str, environment: dict[str, str]) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to use database {name!r}: its name must contain 'bench' (rows are deleted)")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=environment, check=True, timeout=300,
    )  # fmt: skip


def redis_client(redis_url: str) -> Any:
    import redis

    return redis.Redis.from_url(redis_url)


def queue_keys(client: Any, queue: str) -> list[bytes]:
    """The bench queue's lists (kombu keeps one per priority step) and its binding set."""
    keys = [key for key in client.scan_iter(match=f"{queue}*") if key.decode().startswith(queue)]
    bindings = [key for key in client.scan_iter(match="_kombu.binding*") if key.decode().endswith(f".{queue}")]
    return [*keys, *bindings]


def queue_length(client: Any, queue: str) -> int:
    return sum(client.llen(key) for key in queue_keys(client, queue) if client.type(key) == b"list")


def queued_message_ids(client: Any, queue: str) -> tuple[int, list[str]]:
    """(tasks, message ids they carry): ingest publishes one process_messages task per batch of stored messages."""
    tasks, message_ids = 0, []
    for key in queue_keys(client, queue):
        if client.type(key) != b"list":
            continue
        for raw in client.lrange(key, 0, -1):
            envelope = json.loads(raw)
            args = json.loads(base64.b64decode(envelope["body"]))[0]
            tasks += 1
            if envelope["headers"]["task"] == "bots.tasks.process_messages":
                message_ids.extend(message_id for _tenant_id, message_id in args[0])
            else:  # bots.tasks.process_message(tenant_id, message_id): the sweeper's, or an older ingest's
                message_ids.append(args[1])
    return tasks, message_ids


def redis_purge(client: Any, queue: str) -> int:
    keys = [*queue_keys(client, queue), *client.scan_iter(match="botyard:*")]
    return client.delete(*keys) if keys else 0


# --- Django, in this process: fixture, probe, verification, cleanup -------------------------------------------------


def fixture_create(stamp: str) -> dict[str, Any]:
    from bots.services import bot_create
    from tenants.services import tenant_create

    creation = tenant_create(name=f"{TENANT_PREFIX} {stamp}", owner_email=f"owner-{stamp.lower()}@{OWNER_DOMAIN}")
    group_id = str(70_000_000 + int(time.time()) % 10_000_000)
    bot = bot_create(
        tenant=creation.tenant, name="Bench bot", groupme_group_id=group_id, groupme_bot_id=f"bench{stamp.lower()}"
    )
    return {"tenant": creation.tenant, "bot": bot, "group_id": group_id, "token": bot.callback_token}


def stored_ids(bot: Any, prefix: str) -> set[str]:
    from groups.models import Message

    rows = Message.objects.filter(group_id=bot.group_id, groupme_message_id__startswith=prefix)
    return set(rows.values_list("groupme_message_id", flat=True))


def stored_message_ids(bot: Any) -> list[str]:
    from groups.models import Message

    return [str(pk) for pk in Message.objects.filter(group_id=bot.group_id).values_list("pk", flat=True)]


def rows_cleanup() -> dict[str, int]:
    """Deletes every bench tenant (this run's and any a crashed run left), its messages first, in bulk."""
    from django.db import connection, transaction

    from bots.models import Bot
    from groups.models import Message
    from tenants.models import Tenant, User

    tenant_ids = list(Tenant.objects.filter(name__startswith=TENANT_PREFIX).values_list("pk", flat=True))
    deleted = {"tenants": len(tenant_ids), "messages": 0}
    if tenant_ids:
        with transaction.atomic(), connection.cursor() as cursor:
            # Row by row through the ORM's collector would take minutes for a few hundred thousand messages.
            cursor.execute(f"DELETE FROM {Message._meta.db_table} WHERE tenant_id = ANY(%s)", [tenant_ids])  # noqa: S608
            deleted["messages"] = cursor.rowcount
            Bot.objects.filter(tenant_id__in=tenant_ids).delete()
            Tenant.objects.filter(pk__in=tenant_ids).delete()
    deleted["users"] = User.objects.filter(email__endswith=f"@{OWNER_DOMAIN}").delete()[0]
    return deleted


def wsgi_call(handler: Any, path: str, body: bytes) -> int:
    """One request through Django's WSGI handler, as gunicorn makes it (signals, middleware, connection reuse)."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "GroupMeBotNotifier/1.0", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }  # fmt: skip
    statuses: list[int] = []
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(int(status.split()[0])))
    try:
        b"".join(response)
    finally:
        response.close()  # request_finished: what gunicorn's worker does after each response
    return statuses[0]


def probe(fixture: dict[str, Any], bodies: "Bodies", redis_url: str, *, repeat: int) -> dict[str, Any]:
    """In-process: statements and Redis commands per callback, CPU per request, and where the time goes."""
    import psycopg
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants import encryption

    handler = WSGIHandler()
    callback_path = f"/hooks/groupme/{fixture['token']}/"
    ids = itertools.count()

    def callback_body() -> bytes:
        return bodies.callback("P", next(ids))[1]

    for _ in range(20):  # connections, Celery's producer and the queue declaration are set up once per process
        wsgi_call(handler, callback_path, callback_body())
        wsgi_call(handler, BARE_PATH, callback_body())

    # Statements: Django's log (with BEGIN/COMMIT/ROLLBACK) plus whatever reaches psycopg outside it.
    executed: list[str] = []
    original_execute = psycopg.Cursor.execute

    def counting_execute(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        executed.append(query if isinstance(query, str) else repr(query))
        return original_execute(self, query, *args, **kwargs)

    decrypts = 0
    original_decrypt = encryption.decrypt

    def counting_decrypt(token: str) -> str:
        nonlocal decrypts
        decrypts += 1
        return original_decrypt(token)

    statements: dict[str, Any] = {}
    fresh = callback_body()
    for case, body in (("new_message", fresh), ("duplicate", fresh), ("bare_view", None)):
        executed.clear()
        decrypts = 0
        psycopg.Cursor.execute = counting_execute  # type: ignore[method-assign]
        encryption.decrypt = counting_decrypt
        try:
            with CaptureQueriesContext(connection) as captured:

                def one_request(body: bytes | None = body) -> None:
                    wsgi_call(handler, BARE_PATH if body is None else callback_path, body or b"{}")
                    time.sleep(0.05)  # the wake-up thread publishes after the response

                redis_commands = redis_monitor(redis_url, one_request)
        finally:
            psycopg.Cursor.execute = original_execute  # type: ignore[method-assign]
            encryption.decrypt = original_decrypt
        django_sql = [query["sql"] for query in captured.captured_queries]
        outside_django = len(executed) - sum(1 for sql in django_sql if sql not in ("BEGIN", "COMMIT", "ROLLBACK"))
        statements[case] = {
            "django_statements": len(django_sql),
            "health_check_statements": outside_django,
            "round_trips_to_postgresql": len(django_sql) + outside_django,
            "sql": [_sql_shape(sql) for sql in django_sql],
            "redis_commands": redis_commands,
            "field_decryptions": decrypts,
        }

    # CPU and wall time per request in this process: the Django work gunicorn's workers do, without HTTP.
    # Chunks alternate between the two views so that a neighbour's burst of load hits both alike.
    chunk = 50
    per_chunk: dict[str, list[tuple[float, float]]] = {"bare_view": [], "callback": []}
    for _ in range(max(1, repeat // chunk)):
        for name, path in (("bare_view", BARE_PATH), ("callback", callback_path)):
            payloads = [callback_body() for _ in range(chunk)]
            wall, cpu = time.perf_counter(), time.process_time()
            for body in payloads:
                wsgi_call(handler, path, body)
            per_chunk[name].append(((time.perf_counter() - wall) / chunk, (time.process_time() - cpu) / chunk))
    timing: dict[str, Any] = {
        name: {
            "requests": len(chunks) * chunk,
            "wall_ms": round(statistics.median(wall for wall, _ in chunks) * 1000, 3),
            "cpu_ms": round(statistics.median(cpu for _, cpu in chunks) * 1000, 3),
        }
        for name, chunks in per_chunk.items()
    }
    timing["callback_over_bare_cpu"] = round(timing["callback"]["cpu_ms"] / timing["bare_view"]["cpu_ms"], 2)

    # Where a callback's CPU goes, sampled.
    payloads = [callback_body() for _ in range(3 * repeat)]  # the kernel's tick (4 ms at HZ=250) bounds the rate
    with CpuSampler() as sampler:
        for body in payloads:
            wsgi_call(handler, callback_path, body)
    profile = sampler.shares(timing["callback"]["cpu_ms"])

    alternatives = lookup_alternatives(fixture, repeat=repeat)
    write_costs = write_alternatives(fixture, repeat=repeat)

    # What one round trip costs this process, to weigh statements against Python work.
    client = redis_client(redis_url)
    round_trips = {}
    with connection.cursor() as cursor:
        for name, action in (
            ("postgresql_select_1", lambda: cursor.execute("SELECT 1")),
            ("redis_ping", client.ping),
        ):
            for _ in range(50):
                action()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(1000):
                action()
            round_trips[name] = {
                "wall_us": round((time.perf_counter() - wall) * 1000, 1),
                "cpu_us": round((time.process_time() - cpu) * 1000, 1),
            }

    cipher_token = encryption.encrypt("x" * 32)
    started = time.perf_counter()
    for _ in range(2000):
        encryption.decrypt(cipher_token)
    decrypt_us = (time.perf_counter() - started) / 2000 * 1e6
    return {
        "per_request": statements,
        "in_process_timing": timing,
        "cpu_profile": profile,
        "lookup_alternatives": alternatives,
        "write_alternatives": write_costs,
        "round_trip_cost": round_trips,
        "field_decrypt_us": round(decrypt_us, 1),
        "messages_stored_by_probe": len(stored_ids(fixture["bot"], "P")),
    }


def lookup_alternatives(fixture: dict[str, Any], *, repeat: int) -> dict[str, Any]:
    """The two reads of the callback as the project makes them, and cheaper ways to make the same reads.

    Read-only and in this process: what the alternatives would save, not a change to the project.
    """
    from django.db import connection

    from bots import selectors
    from bots.models import Bot
    from bots.selectors import bot_get_by_callback_token
    from groups.models import Member
    from groups.selectors import member_is_opted_out

    token = fixture["token"]
    bot = fixture["bot"]
    token_hash = bot.callback_token_hash  # as stored, whichever helper computes it
    live = {"is_active": True, "deleted_at__isnull": True}

    def raw_bot() -> Any:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT b.id, b.tenant_id, b.group_id, b.command_prefix, b.optin_command, g.groupme_group_id "
                "FROM bots_bot b JOIN groups_group g ON g.id = b.group_id "
                "WHERE b.callback_token_hash = %s AND b.is_active AND b.deleted_at IS NULL",
                [token_hash],
            )
            return cursor.fetchone()

    def deferred_bot() -> Any:
        query = Bot.objects.select_related("group").defer("callback_token", "groupme_bot_id")
        return query.filter(callback_token_hash=token_hash, **live).first()

    def values_bot() -> Any:
        fields = ("id", "tenant_id", "group_id", "command_prefix", "optin_command", "group__groupme_group_id")
        return Bot.objects.filter(callback_token_hash=token_hash, **live).values(*fields).first()

    def opted_out_exists() -> bool:
        members = Member.objects.filter(group_id=bot.group_id, groupme_user_id="555", opted_out_at__isnull=False)
        return members.exists()

    def uncached_bot() -> Any:
        selectors._callback_bots.clear()
        return bot_get_by_callback_token(token=token)

    candidates: dict[str, Callable[[], Any]] = {
        "bot: bot_get_by_callback_token (as is: remembered per process)": lambda: bot_get_by_callback_token(
            token=token
        ),
        "bot: bot_get_by_callback_token, not remembered": uncached_bot,
        "bot: same query, encrypted fields deferred": deferred_bot,
        "bot: .values() of the six fields ingest reads": values_bot,
        "bot: the same six fields, raw SQL": raw_bot,
        "opt-out: member_is_opted_out (as is)": lambda: member_is_opted_out(
            group_id=bot.group_id, groupme_user_id="555"
        ),
        "opt-out: .filter(opted_out_at__isnull=False).exists()": opted_out_exists,
    }
    figures: dict[str, Any] = {}
    for label, read in candidates.items():
        try:
            for _ in range(20):
                read()
        except Exception as exc:  # the project moved on (a renamed column, say): report it, keep benchmarking
            connection.close()
            figures[label] = {"error": repr(exc)}
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            read()
        figures[label] = {
            "wall_ms": round((time.perf_counter() - wall) / repeat * 1000, 3),
            "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 3),
        }
    return figures


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_alternatives(fixture: dict[str, Any], *, repeat: int) -> dict[str, Any]:
    """The ingest write and the wake-up as the project makes them, and the ways they were made before.

    Per call: this process's CPU, and for the INSERT the CPU of its PostgreSQL backend (read from /proc), which is
    where a prepared statement saves (no parse, no plan).
    """
    from django.db import connection
    from django.utils import timezone

    from bots import services
    from bots.callbacks import callback_parse
    from bots.selectors import bot_get_by_callback_token
    from bots.tasks import process_message, process_messages

    bot = bot_get_by_callback_token(token=fixture["token"])
    numbers = itertools.count()
    bodies = Bodies(fixture["group_id"])

    def ingest_one() -> None:
        callback = callback_parse(json.loads(bodies.callback("A", next(numbers))[1]), received_at=timezone.now())
        services.message_ingest(bot=bot, callback=callback, received_at=timezone.now())

    original_enqueue = services._enqueue_processing
    services._enqueue_processing = lambda **_: None  # the INSERT alone; the wake-up is measured below
    figures: dict[str, Any] = {}
    settings_dict = connection.settings_dict
    try:
        variants = (("INSERT, prepared (as is)", 1_000_000), ("INSERT, parsed and planned each time", None))
        for label, threshold in variants:
            connection.ensure_connection()
            connection.connection.prepare_threshold = threshold
            backend = connection.connection.info.backend_pid
            for _ in range(20):
                ingest_one()
            wall, cpu, server = time.perf_counter(), time.process_time(), _process_cpu_seconds(backend)
            for _ in range(repeat):
                ingest_one()
            figures[label] = {
                "wall_ms": round((time.perf_counter() - wall) / repeat * 1000, 3),
                "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 3),
                "postgresql_backend_cpu_ms": round((_process_cpu_seconds(backend) - server) / repeat * 1000, 3),
            }
    finally:
        services._enqueue_processing = original_enqueue
        connection.connection.prepare_threshold = settings_dict["OPTIONS"].get("prepare_threshold")
        # Stored without a wake-up on purpose: removed, so that the outbox check counts only what ingest woke for.
        from groups.models import Message

        Message.objects.filter(group_id=bot.group_id, groupme_message_id__startswith="A").delete()

    # The wake-up: Celery's publish of one task (per message before; per batch now) against the hand-over.
    from bots import outbox

    pair = ["00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000001"]
    # A queue of its own, deleted below: these tasks carry no stored message and must not reach the outbox check.
    probe_queue = f"{process_messages.app.conf.task_default_queue}-publish-probe"
    candidates: dict[str, Callable[[], Any]] = {
        "wake-up: hand-over to the publisher thread (outbox_wake, as is)": lambda: outbox.outbox_wake(
            tenant_id=pair[0], message_id=pair[1]
        ),
        "wake-up: Celery apply_async of process_messages (one per batch)": lambda: process_messages.apply_async(
            args=([pair],), queue=probe_queue
        ),
        "wake-up: Celery apply_async of process_message (one per message, before)": lambda: process_message.apply_async(
            args=pair, queue=probe_queue
        ),
    }
    publisher, outbox._wake_ups = outbox._wake_ups, outbox.WakeUpPublisher(autostart=False)  # holds, never sends
    for label, action in candidates.items():
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            action()
        figures[label] = {
            "wall_ms": round((time.perf_counter() - wall) / repeat * 1000, 3),
            "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 3),
        }
    outbox._wake_ups = publisher
    client = redis_client(os.environ["REDIS_URL"])
    probe_keys = list(client.scan_iter(match=f"*{probe_queue}*"))
    if probe_keys:
        client.delete(*probe_keys)
    return figures


# Where a callback's CPU goes: a sample is a stack, and it counts for every labelled function on that stack.
# Nested labels overlap (the insert's COMMIT runs the on-commit publish, for instance); shares do not add up to 1.
CPU_POINTS: dict[str, tuple[str, str]] = {
    "whole request (WSGIHandler.__call__)": ("django/core/handlers/wsgi.py", "__call__"),
    "view groupme_callback": ("bots/views.py", "groupme_callback"),
    "bot lookup (bot_get_by_callback_token)": ("bots/selectors.py", "bot_get_by_callback_token"),
    "  field decryption (Fernet, EncryptedTextField)": ("tenants/encryption.py", "decrypt"),
    "  connection health check (is_usable: SELECT 1)": ("django/db/backends/postgresql/base.py", "is_usable"),
    "callback_parse": ("bots/callbacks.py", "callback_parse"),
    "message_ingest": ("bots/services.py", "message_ingest"),
    "  INSERT with the opt-out check (_message_insert_postgresql)": ("bots/services.py", "_message_insert_postgresql"),
    "  wake-up hand-over (outbox_wake)": ("bots/outbox.py", "outbox_wake"),
    "across the request: ORM SQL compilation": ("django/db/models/sql/compiler.py", "as_sql"),
    "across the request: psycopg execute (send, wait, read)": ("psycopg/cursor.py", "execute"),
    "across the request: model instances from rows (from_db)": ("django/db/models/base.py", "from_db"),
}


class CpuSampler:
    """A statistical profiler on ITIMER_PROF: every `interval` of this process's CPU, the main thread's stack.

    Unlike cProfile it adds no cost per call, so cheap calls made often are not overstated; only CPU is sampled,
    so waiting for PostgreSQL or Redis does not count (it costs the worker time, not CPU).
    """

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.samples = 0
        self.hits: dict[str, int] = dict.fromkeys(CPU_POINTS, 0)
        self._targets = {(suffix, name): label for label, (suffix, name) in CPU_POINTS.items()}

    def _sample(self, _signum: int, frame: Any) -> None:
        self.samples += 1
        seen = set()
        while frame is not None:
            code = frame.f_code
            for (suffix, name), label in self._targets.items():
                if code.co_name == name and code.co_filename.endswith(suffix):
                    seen.add(label)
            frame = frame.f_back
        for label in seen:
            self.hits[label] += 1

    def __enter__(self) -> "CpuSampler":
        self._previous = signal.signal(signal.SIGPROF, self._sample)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, self._previous)

    def shares(self, cpu_ms_per_request: float) -> dict[str, Any]:
        whole = self.hits["whole request (WSGIHandler.__call__)"] or 1
        return {
            label: {"share": round(hits / whole, 3), "cpu_ms": round(hits / whole * cpu_ms_per_request, 3)}
            for label, hits in self.hits.items()
        } | {"samples": self.samples}


def redis_monitor(redis_url: str, action: Callable[[], Any]) -> list[str]:
    """The commands sent to the bench Redis database while `action` runs (MONITOR, filtered to that database)."""
    client = redis_client(redis_url)
    database = client.connection_pool.connection_kwargs.get("db", 0)
    sentinel_client = redis_client(redis_url)
    sentinel_client.ping()  # connected (and its SELECT sent) before MONITOR starts
    sentinel = f"bench-monitor-end-{time.monotonic_ns()}"
    seen: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if sentinel in command["command"]:
                    return
                if command.get("db") == database:
                    seen.append(re.sub(r" \S{80,}", " <payload>", command["command"]))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    time.sleep(0.1)  # MONITOR is active once the server has answered it; a short margin
    action()
    sentinel_client.echo(sentinel)
    listener.join(5)
    return seen


def _sql_shape(sql: str) -> str:
    """The statement without its values, short enough to read in a report."""
    shape = re.sub(r"'[^']*'", "?", sql)
    shape = re.sub(r"\b\d+(\.\d+)?\b", "?", shape)
    return shape if len(shape) <= 1000 else shape[:997] + "..."


# --- Request bodies --------------------------------------------------------------------------------------------------


class Bodies:
    """Callback bodies as GroupMe sends them (bots/tests/callbacks.py callback_payload), each with its own id."""

    def __init__(self, group_id: str) -> None:
        self.group_id = group_id

    def callback(self, prefix: str, number: int) -> tuple[str, bytes]:
        message_id = f"{prefix}{number:011d}"
        payload = {
            "attachments": [],
            "avatar_url": None,
            "created_at": int(time.time()),
            "group_id": self.group_id,
            "id": message_id,
            "name": "Ana",
            "sender_id": str(555 + number % 50),
            "sender_type": "user",
            "source_guid": f"guid-{message_id}",
            "system": False,
            "text": "see you all at practice tonight",
            "user_id": str(555 + number % 50),
        }
        return message_id, json.dumps(payload).encode()


# --- Processes: gunicorn, wrk, CPU accounting ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


class Gunicorn:
    def __init__(self, *, worker_class: str, workers: int, threads: int, environment: dict[str, str]) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        threads = threads if worker_class == "gthread" else 1
        self.config = {"worker_class": worker_class, "workers": workers, "threads": threads}
        self.command = [
            str(VENV_BIN / "gunicorn"), "-c", str(GUNICORN_CONFIG), "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", worker_class, "--backlog", "2048", "--timeout", "30",
            "--graceful-timeout", "5", "--log-level", "warning", "--error-logfile", self.log.name,
        ]  # fmt: skip
        # Always said: config/gunicorn.conf.py sets threads, and a sync worker with threads > 1 becomes gthread.
        self.command += ["--threads", str(threads)]
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=environment, start_new_session=True)  # noqa: S603

    def wait_healthy(self, deadline_seconds: float = 60) -> dict[str, Any]:
        import http.client

        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}: {self.log_tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/health/")
                response = connection.getresponse()
                body = json.loads(response.read())
                connection.close()
                if response.status == 200:
                    return body  # type: ignore[no-any-return]
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become healthy: {self.log_tail()}")

    def worker_pids(self) -> list[int]:
        return [pid for pid, _comm, ppid, _cpu in proc_table() if ppid == self.process.pid]

    def memory_kib(self) -> dict[str, int]:
        memory = {}
        for pid in [self.process.pid, *self.worker_pids()]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(r"VmRSS:\s+(\d+) kB", status)
            memory[str(pid)] = int(match.group(1)) if match else 0
        return memory

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def proc_table() -> list[tuple[int, str, int, float]]:
    """(pid, command name, parent pid, CPU seconds) of every process."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table.append((int(entry.name), comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks))
    return table


class CpuMeter:
    """Cores used by gunicorn (master and workers), PostgreSQL, Redis, the load generator, and everything else.

    Per process, polled every quarter second: a backend that ends meanwhile (CONN_MAX_AGE recycles them every
    minute) keeps what it used until its last poll. `other_processes` is what the rest of the machine took: on a
    shared machine, the noise to read the figures against.
    """

    POLL_SECONDS = 0.25

    def __init__(self, gunicorn: Gunicorn, database: str, *, extra_roots: dict[str, int] | None = None) -> None:
        self.gunicorn = gunicorn
        self.database = database
        # More process trees to count on their own (a Celery worker, the fake GroupMe): kind -> parent pid.
        self.extra_roots = extra_roots or {}
        self._kinds: dict[int, str | None] = {}
        self.baseline = self._processes()
        self.latest = dict(self.baseline)
        self.before_self = self._generator()
        self.before_machine = self._machine()
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.POLL_SECONDS):
            for pid, (kind, cpu) in self._processes().items():
                self.baseline.setdefault(pid, (kind, 0.0))  # born during the interval: all its CPU counts
                self.latest[pid] = (kind, cpu)

    def _processes(self) -> dict[int, tuple[str, float]]:
        master = self.gunicorn.process.pid
        table = {}
        for pid, comm, ppid, cpu in proc_table():
            if pid not in self._kinds:
                extra = [kind for kind, root in self.extra_roots.items() if root in (pid, ppid)]
                if extra:
                    self._kinds[pid] = extra[0]
                elif pid == master or ppid == master:
                    self._kinds[pid] = "gunicorn"
                elif comm == "postgres" and self._serves_bench(pid):
                    self._kinds[pid] = "postgresql"
                elif comm.startswith("redis-server"):
                    self._kinds[pid] = "redis"
                else:
                    self._kinds[pid] = None
            kind = self._kinds[pid]
            if kind is not None:
                table[pid] = (kind, cpu)
        return table

    def _serves_bench(self, pid: int) -> bool:
        """The postmaster, its shared helpers (WAL writer, checkpointer...) and backends of the bench database.

        Backends of other databases (a neighbour's test suite) count as other processes.
        """
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        backend = re.match(r"postgres: [^:]+: (\S+) (\S+) \S+\(\d+\)", title)
        return backend is None or backend.group(2) == self.database

    @staticmethod
    def _generator() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        return time.process_time() + children.ru_utime + children.ru_stime

    @staticmethod
    def _machine() -> tuple[float, float, float]:
        """(busy, iowait, steal) seconds of all cores; steal is what the hypervisor kept for others."""
        values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        ticks = os.sysconf("SC_CLK_TCK")
        return (sum(values[:7]) - values[3] - values[4]) / ticks, values[4] / ticks, values[7] / ticks

    def cores(self) -> dict[str, float]:
        """Average cores used by each over the interval (2.0 = both cores of a 2-core machine)."""
        self._stop.set()
        self._poller.join()
        for pid, (kind, cpu) in self._processes().items():
            self.baseline.setdefault(pid, (kind, 0.0))
            self.latest[pid] = (kind, cpu)
        wall = time.perf_counter() - self.started
        measured = ("gunicorn", "postgresql", "redis", *self.extra_roots)
        seconds = dict.fromkeys(measured, 0.0)
        for pid, (kind, cpu) in self.latest.items():
            seconds[kind] += cpu - self.baseline[pid][1]
        seconds["load_generator"] = self._generator() - self.before_self
        busy, iowait, steal = self._machine()
        seconds["machine_busy"] = busy - self.before_machine[0]
        seconds["iowait"] = iowait - self.before_machine[1]
        seconds["steal"] = steal - self.before_machine[2]
        seconds["other_processes"] = max(0.0, seconds["machine_busy"] - sum(
            seconds[kind] for kind in (*measured, "load_generator")
        ))  # fmt: skip
        return {name: round(value / wall, 2) for name, value in seconds.items()}


def wrk_run(
    *, url: str, connections: int, threads: int, duration: float, group_id: str, prefix: str, copies: int = 1
) -> tuple[dict[str, Any], list[str]]:
    command = [
        "wrk", "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{duration:g}s",
        "--timeout", "5s", "-s", str(LUA_SCRIPT), url, "--", group_id, prefix, str(copies),
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)  # noqa: S603
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no result: {completed.stdout}\n{completed.stderr}")
    raw = json.loads(lines[-1])
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    ok = raw["statuses"]["202"] + raw["statuses"]["200"]
    summary = {
        "requests": raw["requests"],
        "ok": ok,
        "errors": errors,
        "error_kinds": raw["errors"],
        "statuses": raw["statuses"],
        "wall_seconds": round(seconds, 3),
        "throughput_rps": round(ok / seconds, 1),
        "latency_ms": {name: round(value / 1000, 3) for name, value in raw["latency_us"].items() if name != "stdev"},
        "generated_ids": raw["generated_ids"],
    }
    return summary, command


# --- The benchmark ---------------------------------------------------------------------------------------------------


def stored_check(
    bot: Any, prefix: str, *, accepted: set[str] | None, accepted_count: int, in_flight: int
) -> dict[str, Any]:
    """Every 202 is stored; with the ids known (Python generator) the stored set must equal the accepted set."""
    stored = stored_ids(bot, prefix)
    # wrk stops with requests in flight: the server may still finish (and store) those after wrk exits.
    deadline = time.monotonic() + 10
    while in_flight and time.monotonic() < deadline:
        time.sleep(0.5)
        again = stored_ids(bot, prefix)
        if len(again) == len(stored):
            break
        stored = again
    check: dict[str, Any] = {"stored": len(stored), "accepted_202": accepted_count}
    if accepted is not None:
        check["exact"] = stored == accepted
        check["missing"] = len(accepted - stored)
        check["unexpected"] = len(stored - accepted)
        check["ok"] = check["exact"]
    else:
        check["answered_after_cutoff_at_most"] = in_flight
        check["ok"] = accepted_count <= len(stored) <= accepted_count + in_flight
    return check


def run_worker_class(
    worker_class: str, args: argparse.Namespace, environment: dict[str, str], fixture: dict[str, Any], bodies: Bodies,
    phase_numbers: Iterator[int],
) -> dict[str, Any]:  # fmt: skip
    bot = fixture["bot"]
    database = urlsplit(args.database_url).path.lstrip("/")
    callback_path = f"/hooks/groupme/{fixture['token']}/"
    server = Gunicorn(worker_class=worker_class, workers=args.workers, threads=args.threads, environment=environment)
    report: dict[str, Any] = {"gunicorn": {**server.config, "command": " ".join(server.command)}}
    try:
        report["health"] = server.wait_healthy()
        print(f"\n== gunicorn {worker_class} x{args.workers} on 127.0.0.1:{server.port}: healthy")

        def prefix() -> str:
            return f"{next(phase_numbers):02d}"

        # Warm-up: imports, connections, Celery's producer, in every worker; counted in the stored total.
        warm = prefix()
        for path in (callback_path, BARE_PATH):
            loadgen.closed_loop(
                host="127.0.0.1", port=server.port, path=path, concurrency=8,
                bodies=(bodies.callback(warm + ("c" if path == callback_path else "b"), n) for n in range(300)),
            )  # fmt: skip

        # a. a fixed rate, open loop
        fixed: dict[str, Any] = {}
        for target, path in (("callback", callback_path), ("bare", BARE_PATH)):
            phase = prefix()
            meter = CpuMeter(server, database)
            result = loadgen.open_loop(
                host="127.0.0.1", port=server.port, path=path, rate=args.rate, duration=args.duration,
                body_for=lambda number, phase=phase: bodies.callback(phase, number), threads=args.generator_threads,
            )  # fmt: skip
            summary = loadgen.summarize(result)
            summary["cpu_cores"] = meter.cores()
            summary["cpu_ms_per_request"] = cpu_per_request(summary)
            if target == "callback":
                accepted = {outcome.key for outcome in result.outcomes if outcome.status == 202}
                summary["stored_check"] = stored_check(
                    bot, phase, accepted=accepted, accepted_count=len(accepted), in_flight=0
                )
            fixed[target] = summary
            print(f"fixed {args.rate:g}/s {target:8s} {_line(summary)}")
        report["fixed_rate"] = {"rate": args.rate, "duration_s": args.duration, **fixed}

        # b, c. saturation at fixed concurrencies: callback and bare back to back, rounds alternating the order
        saturation: dict[str, Any] = {}
        base_url = f"http://127.0.0.1:{server.port}"
        for connections in args.connections:
            rounds: list[dict[str, Any]] = []
            for round_number in range(args.repeat):
                targets = [("callback", callback_path), ("bare", BARE_PATH)]
                pair: dict[str, Any] = {}
                for target, path in targets if round_number % 2 == 0 else targets[::-1]:
                    phase = prefix()
                    meter = CpuMeter(server, database)
                    summary, command = wrk_run(
                        url=base_url + path, connections=connections, threads=args.wrk_threads,
                        duration=args.duration, group_id=fixture["group_id"], prefix=phase,
                    )  # fmt: skip
                    summary["cpu_cores"] = meter.cores()
                    summary["cpu_ms_per_request"] = cpu_per_request(summary)
                    summary["command"] = " ".join(command).replace(fixture["token"], "<token>")
                    if target == "callback":
                        summary["stored_check"] = stored_check(
                            bot, phase, accepted=None, accepted_count=summary["statuses"]["202"], in_flight=connections
                        )
                    pair[target] = summary
                    print(f"saturation c={connections:<3d} {target:8s} {_line(summary)}")
                pair["ratio_callback_over_bare"] = round(
                    pair["callback"]["throughput_rps"] / pair["bare"]["throughput_rps"], 3
                )
                # The same ratio from server CPU per request: what it would be if both were CPU-bound alike.
                pair["ratio_by_server_cpu"] = round(
                    pair["bare"]["cpu_ms_per_request"]["server_total"]
                    / pair["callback"]["cpu_ms_per_request"]["server_total"],
                    3,
                )
                rounds.append(pair)
            saturation[str(connections)] = {"median": rounds_median(rounds), "rounds": rounds}
            median = saturation[str(connections)]["median"]
            print(
                f"saturation c={connections:<3d} median of {len(rounds)}: ratio callback/bare = "
                f"{median['ratio_callback_over_bare']:.2f} by throughput, {median['ratio_by_server_cpu']:.2f} by "
                f"server CPU per request ({median['callback']['cpu_ms_per_request']['server_total']:.2f} vs "
                f"{median['bare']['cpu_ms_per_request']['server_total']:.2f} ms)"
            )
        report["saturation"] = saturation

        # d. duplicates: every id three times, the copies in flight together on different connections
        phase = prefix()
        copies = 3
        sequence = (bodies.callback(phase, number // copies) for number in range(args.duplicates * copies))
        meter = CpuMeter(server, database)
        result = loadgen.closed_loop(
            host="127.0.0.1", port=server.port, path=callback_path, bodies=sequence, concurrency=args.dup_concurrency
        )
        summary = loadgen.summarize(result)
        summary["cpu_cores"] = meter.cores()
        summary["cpu_ms_per_request"] = cpu_per_request(summary)
        accepted = {outcome.key for outcome in result.outcomes if outcome.status == 202}
        check = stored_check(bot, phase, accepted=accepted, accepted_count=len(accepted), in_flight=0)
        check["unique_ids_sent"] = args.duplicates
        check["ok"] = (
            check["ok"]
            and check["stored"] == args.duplicates
            and summary["statuses"].get("202", 0) == args.duplicates
            and summary["statuses"].get("200", 0) == args.duplicates * (copies - 1)
        )
        summary["stored_check"] = check
        report["duplicates"] = {"copies": copies, "concurrency": args.dup_concurrency, **summary}
        print(f"duplicates x{copies} c={args.dup_concurrency} {_line(summary)}")
        report["gunicorn"]["rss_kib_after"] = server.memory_kib()
    finally:
        server.stop()
        report["gunicorn"]["error_log_tail"] = server.log_tail()
        Path(server.log.name).unlink(missing_ok=True)
    return report


def rounds_median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target, the median over rounds of throughput, latency percentiles and cores; errors summed."""
    median: dict[str, Any] = {
        ratio: round(statistics.median(pair[ratio] for pair in rounds), 3)
        for ratio in ("ratio_callback_over_bare", "ratio_by_server_cpu")
    }
    for target in ("callback", "bare"):
        runs = [pair[target] for pair in rounds]
        median[target] = {
            "throughput_rps": round(statistics.median(run["throughput_rps"] for run in runs), 1),
            "latency_ms": {
                point: round(statistics.median(run["latency_ms"][point] for run in runs), 3)
                for point in ("p50", "p95", "p99", "max")
            },
            "errors": sum(run["errors"] for run in runs),
            "cpu_cores": {
                kind: round(statistics.median(run["cpu_cores"][kind] for run in runs), 2)
                for kind in runs[0]["cpu_cores"]
            },
            "cpu_ms_per_request": {
                kind: round(statistics.median(run["cpu_ms_per_request"][kind] for run in runs), 3)
                for kind in runs[0]["cpu_ms_per_request"]
            },
        }
        if target == "callback":
            median[target]["stored_ok"] = all(run["stored_check"]["ok"] for run in runs)
    return median


def cpu_per_request(summary: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per answered request, by process: unlike throughput, barely moved by a busy neighbour."""
    rate = summary["throughput_rps"] or 1.0
    cores = summary["cpu_cores"]
    figures = {kind: round(cores[kind] / rate * 1000, 3) for kind in ("gunicorn", "postgresql", "redis")}
    figures["server_total"] = round(sum(figures.values()), 3)
    return figures


def _line(summary: dict[str, Any]) -> str:
    latency = summary["latency_ms"]
    cores = summary.get("cpu_cores", {})
    check = summary.get("stored_check")
    stored = f" stored {check['stored']}/{check['accepted_202']} {'ok' if check['ok'] else 'MISMATCH'}" if check else ""
    return (
        f"{summary['throughput_rps']:8.1f} req/s  p50 {latency.get('p50', 0):7.2f}  p95 {latency.get('p95', 0):7.2f}  "
        f"p99 {latency.get('p99', 0):7.2f} ms  errors {summary['errors']}  "
        f"cores gunicorn {cores.get('gunicorn', 0):.2f} pg {cores.get('postgresql', 0):.2f} "
        f"gen {cores.get('load_generator', 0):.2f} others {cores.get('other_processes', 0):.2f} "
        f"iowait {cores.get('iowait', 0):.2f}{stored}"
    )


def report_header(
    *, benchmark: str, started_at: datetime, args: argparse.Namespace, environment: dict[str, str]
) -> dict[str, Any]:
    """The fields every benchmark's results file starts with: what ran, when, how loaded, on what machine."""
    return {
        "benchmark": benchmark,
        "started_at": started_at.isoformat(),
        "load_average_at_start": os.getloadavg(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "parameters": {key: value for key, value in vars(args).items() if key not in ("database_url", "redis_url")},
        "machine": machine_description(environment, args.redis_url),
    }


def machine_description(environment: dict[str, str], redis_url: str) -> dict[str, Any]:
    import celery
    import django
    import psycopg
    from django.conf import settings
    from django.db import connection

    meminfo = Path("/proc/meminfo").read_text()
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    gunicorn_version = subprocess.run(  # noqa: S603 - the virtualenv's gunicorn
        [str(VENV_BIN / "gunicorn"), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]  # read-only: no index refresh
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)  # noqa: S603
    changed = subprocess.run(  # noqa: S603
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False
    )
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)  # noqa: S607
    return {
        "code": {
            "commit": commit.stdout.strip(),
            "uncommitted_changes": [line[3:] for line in changed.stdout.splitlines() if line.strip()],
        },
        "nproc": int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout),  # noqa: S607
        "cpu_model": model.group(1).strip() if model else "",
        "memory_total_kib": int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)),  # type: ignore[union-attr]
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn_version,
        "psycopg": psycopg.__version__,
        "celery": celery.__version__,
        "postgresql": postgresql,
        "redis": redis_client(redis_url).info("server")["redis_version"],
        "wrk": (wrk_version.stdout + wrk_version.stderr).splitlines()[0].strip(),
        "settings": {key: environment[key] for key in REPORTED_SETTINGS},
        "ingest_settings": {
            name: getattr(settings, name)
            for name in (
                "BOTS_CALLBACK_CACHE_SECONDS",
                "BOTS_WAKE_UP_INTERVAL_SECONDS",
                "BOTS_LOOP_MAX_REPLIES_PER_MINUTE",
            )
        },
        "database_prepare_threshold": connection.settings_dict["OPTIONS"].get("prepare_threshold"),
        "database_conn_max_age": connection.settings_dict["CONN_MAX_AGE"],
        "database_conn_health_checks": connection.settings_dict["CONN_HEALTH_CHECKS"],
    }


def goals(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's goals, per worker class: ratio >= 0.5, >= 1,000 msg/s on 2 cores, p99 <= 50 ms at 100 msg/s."""
    verdicts = {}
    for worker_class, result in report["runs"].items():
        medians = [entry["median"] for entry in result["saturation"].values()]
        best = max(medians, key=lambda median: median["callback"]["throughput_rps"])
        verdicts[worker_class] = {
            "best_concurrency": next(c for c, entry in result["saturation"].items() if entry["median"] is best),
            "ratio_callback_over_bare": best["ratio_callback_over_bare"],
            "ratio_goal_0.5_met": best["ratio_callback_over_bare"] >= 0.5,
            "ratio_by_server_cpu": best["ratio_by_server_cpu"],
            "server_cpu_ms_per_callback": best["callback"]["cpu_ms_per_request"],
            "callback_msgs_per_s": best["callback"]["throughput_rps"],
            "throughput_goal_1000_met": best["callback"]["throughput_rps"] >= 1000,
            "p99_ms_at_fixed_rate": result["fixed_rate"]["callback"]["latency_ms"]["p99"],
            "p99_goal_50ms_met": result["fixed_rate"]["callback"]["latency_ms"]["p99"] <= 50,
            "nothing_lost": result["fixed_rate"]["callback"]["stored_check"]["ok"]
            and result["duplicates"]["stored_check"]["ok"]
            and all(entry["median"]["callback"]["stored_ok"] for entry in result["saturation"].values()),
        }
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-classes", default="sync,gthread", help="comma-separated: sync, gthread")
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker (default 8)")
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured phase (default 15)")
    parser.add_argument("--rate", type=float, default=100, help="fixed rate in messages/s (default 100)")
    parser.add_argument("--connections", default="16,32", help="saturation concurrencies (default 16,32)")
    parser.add_argument("--duplicates", type=int, default=1000, help="unique ids in the duplicate run, each sent 3x")
    parser.add_argument("--dup-concurrency", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=2, help="saturation rounds per concurrency (median reported)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--generator-threads", type=int, default=32, help="open-loop sender threads")
    parser.add_argument("--probe-requests", type=int, default=500, help="in-process requests per probe measurement")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botyard_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--queue", default="bench-callback-ingest", help="Celery queue of this run (purged after)")
    parser.add_argument("--probe-only", action="store_true", help="only the in-process probe, no gunicorn")
    parser.add_argument("--keep-rows", action="store_true", help="leave the bench rows and queue for inspection")
    args = parser.parse_args(argv)
    args.connections = [int(value) for value in str(args.connections).split(",") if value]
    worker_classes = [value.strip() for value in args.worker_classes.split(",") if value.strip()]
    if shutil.which("wrk") is None:
        print("wrk is needed for the saturation runs: apt-get install -y wrk", file=sys.stderr)
        return 2

    environment = bench_environment(args)
    os.environ.clear()
    os.environ.update(environment)
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    database_prepare(args.database_url, environment)

    import django

    django.setup()
    redis = redis_client(args.redis_url)
    report: dict[str, Any] = {
        **report_header(benchmark="callback_ingest", started_at=started_at, args=args, environment=environment),
        "leftovers_before": {"rows": rows_cleanup(), "redis_keys": redis_purge(redis, args.queue)},
    }
    fixture = fixture_create(stamp)
    bodies = Bodies(fixture["group_id"])
    try:
        print(f"probe: {args.probe_requests} in-process requests per measurement")
        report["probe"] = probe(fixture, bodies, args.redis_url, repeat=args.probe_requests)
        _print_probe(report["probe"])
        from django.db import connections

        connections.close_all()  # gunicorn's workers get their own; this process only counts rows from here on
        phase_numbers = itertools.count(10)
        report["runs"] = {}
        for worker_class in [] if args.probe_only else worker_classes:
            report["runs"][worker_class] = run_worker_class(
                worker_class, args, environment, fixture, bodies, phase_numbers
            )
        time.sleep(1)  # the wake-up threads publish within a few milliseconds of the last insert
        stored = stored_message_ids(fixture["bot"])
        tasks, queued = queued_message_ids(redis, args.queue)
        report["outbox"] = {
            "messages_stored": len(stored),
            "tasks_in_bench_queue": tasks,
            "message_ids_in_tasks": len(queued),
            "every_stored_message_queued_once": sorted(queued) == sorted(stored),
        }
        report["goals"] = goals(report)
    finally:
        if not args.keep_rows:
            report["cleanup"] = {"rows": rows_cleanup(), "redis_keys": redis_purge(redis, args.queue)}
        report["finished_at"] = datetime.now(UTC).isoformat()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        output = RESULTS_DIR / f"callback_ingest-{stamp}.json"
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nresults: {output.relative_to(ROOT)}")
    _print_summary(report)
    return 0 if all(verdict["nothing_lost"] for verdict in report["goals"].values()) else 1


def _print_probe(probe_report: dict[str, Any]) -> None:
    for case, figures in probe_report["per_request"].items():
        print(
            f"  {case:12s} {figures['round_trips_to_postgresql']} PostgreSQL round trips "
            f"({figures['django_statements']} logged by Django + {figures['health_check_statements']} health check), "
            f"{len(figures['redis_commands'])} Redis commands, {figures['field_decryptions']} Fernet decryptions"
        )
        for sql in figures["sql"]:
            print(f"      {sql[:110]}")
    print("  where a callback's CPU goes (sampled; nested labels overlap):")
    for label, figures in probe_report["cpu_profile"].items():
        if label != "samples":
            print(f"    {label:58s} {figures['cpu_ms']:6.3f} ms  {figures['share']:6.1%}")
    print("  the callback's two reads, and cheaper ways to make them (CPU per call, this process):")
    for label, figures in probe_report["lookup_alternatives"].items():
        print(f"    {label:58s} {figures['cpu_ms']:6.3f} ms" if "cpu_ms" in figures else f"    {label}: {figures}")
    print("  the ingest write and the wake-up, as is and as before (per call, this process):")
    for label, figures in probe_report["write_alternatives"].items():
        backend = figures.get("postgresql_backend_cpu_ms")
        print(f"    {label:70s} {figures['cpu_ms']:6.3f} ms" + (f" (+ PostgreSQL {backend:.3f} ms)" if backend else ""))
    timing = probe_report["in_process_timing"]
    print(
        f"  in-process CPU per request: bare {timing['bare_view']['cpu_ms']} ms, callback "
        f"{timing['callback']['cpu_ms']} ms (x{timing['callback_over_bare_cpu']}); wall callback "
        f"{timing['callback']['wall_ms']} ms"
    )


def _print_summary(report: dict[str, Any]) -> None:
    print("\nSummary")
    outbox = report.get("outbox", {})
    for worker_class, verdict in report.get("goals", {}).items():
        print(
            f"  {worker_class}: {verdict['callback_msgs_per_s']:.0f} msg/s at saturation, "
            f"callback/bare {verdict['ratio_callback_over_bare']:.2f} by throughput, "
            f"{verdict['ratio_by_server_cpu']:.2f} by server CPU (goal 0.5: "
            f"{'met' if verdict['ratio_goal_0.5_met'] else 'missed'}), >=1000 msg/s "
            f"{'met' if verdict['throughput_goal_1000_met'] else 'missed'}, p99 at fixed rate "
            f"{verdict['p99_ms_at_fixed_rate']:.1f} ms ({'met' if verdict['p99_goal_50ms_met'] else 'missed'}), "
            f"nothing lost: {verdict['nothing_lost']}"
        )
    if outbox:
        print(
            f"  outbox: {outbox['messages_stored']} messages stored, {outbox['tasks_in_bench_queue']} tasks queued "
            f"carrying {outbox['message_ids_in_tasks']} message ids "
            f"({'each stored message once' if outbox['every_stored_message_queued_once'] else 'MISMATCH'})"
        )


if __name__ == "__main__":
    sys.exit(main())
