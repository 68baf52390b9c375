"""What verifying an API key costs per request: in process, and through gunicorn, against baselines of the same run.

    .venv/bin/python bench/api_key_auth.py [--calls 2000] [--duration 10] [--connections 16] [--repeat 2]

a. **In process, the parts** (CPU and wall time per call, statements): the key's hash and constant-time compare
   alone; `api_key_get_for_authentication` (lookup by the key's id, hash compare, tenant and expiry checks);
   `api_key_mark_used` while `last_used_at` is fresh (skipped: no statement) and when it is stale (an UPDATE, once
   per key every API_KEY_LAST_USED_RESOLUTION); `ApiKeyAuthentication.authenticate` on a DRF request; and DRF's
   `SessionAuthentication.authenticate` on a request that went through the session and authentication
   middleware (the session row and the user are read).
b. **In process, whole requests** through Django's WSGI handler (every middleware): the same tiny DRF view
   (bench/urls.py) without authentication, with key authentication, with session authentication, and
   `GET /api/v1/bots/` (key, throttle, pagination, one list query); chunks alternate so that a neighbour's burst
   hits all alike.
c. **Through gunicorn** (config/gunicorn.conf.py; `--workers`/`--threads` override it): `wrk` against a bare Django
   view, the open DRF view, the key view, the session view and `/api/v1/bots/`, rounds alternating the order;
   requests/s, latency and server CPU per request, and the ratios to the bare view and to the open view.

Writes bench/results/api_key_auth-<UTC timestamp>.json. The throttle is raised (API_THROTTLE_RATE) so that no
request is answered 429; everything else runs with production settings (DEBUG off, the Redis cache).
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callback_ingest import (  # noqa: E402
    CpuMeter,
    Gunicorn,
    bench_environment,
    database_prepare,
    redis_client,
    redis_purge,
    report_header,
)

RESULTS_DIR = ROOT / "bench" / "results"
TENANT_PREFIX = "Bench api key auth"
OWNER_DOMAIN = "apikey-bench.localhost"
PATHS = {
    "bare_django_view": "/bench/bare-get/",
    "drf_open": "/bench/api/open/",
    "drf_api_key": "/bench/api/key/",
    "drf_session": "/bench/api/session/",
    "api_v1_bots": "/api/v1/bots/",
}


def fixture_create(stamp: str) -> dict[str, Any]:
    from django.test import Client

    from bots.services import bot_create
    from tenants.services import tenant_create

    creation = tenant_create(name=f"{TENANT_PREFIX} {stamp}", owner_email=f"owner-{stamp.lower()}@{OWNER_DOMAIN}")
    for number in range(3):  # a short page of bots for /api/v1/bots/
        bot_create(
            tenant=creation.tenant, name=f"Bench bot {number}", groupme_group_id=f"9{stamp[-6:]}{number}",
            groupme_bot_id=f"apikeybench{number}",
        )  # fmt: skip
    client = Client()
    client.force_login(creation.owner)  # a real session row in the database, as the dashboard's login makes
    return {
        "tenant": creation.tenant,
        "owner": creation.owner,
        "raw_key": creation.issued_key.raw_key,
        "api_key": creation.issued_key.api_key,
        "session_id": client.cookies["sessionid"].value,
    }


def rows_cleanup() -> dict[str, int]:
    from django.contrib.sessions.models import Session

    from bots.models import Bot
    from tenants.models import Tenant, User

    tenant_ids = list(Tenant.objects.filter(name__startswith=TENANT_PREFIX).values_list("pk", flat=True))
    Bot.objects.filter(tenant_id__in=tenant_ids).delete()
    Tenant.objects.filter(pk__in=tenant_ids).delete()
    users = User.objects.filter(email__endswith=f"@{OWNER_DOMAIN}")
    user_ids = {str(pk) for pk in users.values_list("pk", flat=True)}
    # Sessions store the user id inside their encoded data: the bench users' sessions are found by decoding.
    sessions = [s.pk for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") in user_ids]
    Session.objects.filter(pk__in=sessions).delete()
    return {"tenants": len(tenant_ids), "users": users.delete()[0], "sessions": len(sessions)}


# --- a. In process, the parts ------------------------------------------------------------------------------------


def per_call(action: Callable[[], Any], *, calls: int, prepare: Callable[[], Any] | None = None) -> dict[str, Any]:
    """CPU and wall time per call (median of 5 chunks), and the statements one call makes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        action()
    with CaptureQueriesContext(connection) as captured:
        action()
    chunk = max(1, calls // 5)
    walls, cpus = [], []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(chunk):
            action()
        walls.append((time.perf_counter() - wall) / chunk)
        cpus.append((time.process_time() - cpu) / chunk)
    return {
        "cpu_us": round(statistics.median(cpus) * 1e6, 1),
        "wall_us": round(statistics.median(walls) * 1e6, 1),
        "statements": len(captured.captured_queries),
        "sql": [query["sql"][:160] for query in captured.captured_queries],
    }


def drf_request(headers: dict[str, str], *, cookies: dict[str, str] | None = None) -> Any:
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    request = factory.get("/bench/api/", **headers)
    for name, value in (cookies or {}).items():
        request.COOKIES[name] = value
    # What the middleware stack does before a view: a session (lazy) and a lazy request.user.
    SessionMiddleware(lambda _request: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda _request: HttpResponse()).process_request(request)
    return Request(request)


def parts(fixture: dict[str, Any], *, calls: int) -> dict[str, Any]:
    from django.utils import timezone
    from rest_framework.authentication import SessionAuthentication

    from tenants.api.authentication import ApiKeyAuthentication
    from tenants.keys import api_key_hash, api_key_matches
    from tenants.selectors import api_key_get_for_authentication
    from tenants.services import api_key_mark_used

    raw_key, api_key = fixture["raw_key"], fixture["api_key"]
    key_hash = api_key_hash(raw_key)
    fresh_key = api_key_get_for_authentication(raw_key=raw_key)
    assert fresh_key is not None
    api_key_mark_used(api_key=fresh_key)  # fresh from here on
    stale_clock = [timezone.now()]

    def mark_used_stale() -> None:
        # Each call is 6 minutes after the previous one: last_used_at is always stale, so it is written.
        stale_clock[0] += timedelta(minutes=6)
        api_key_mark_used(api_key=fresh_key, now=stale_clock[0])

    authentication = ApiKeyAuthentication()
    session_authentication = SessionAuthentication()
    key_headers = {"HTTP_AUTHORIZATION": f"Api-Key {raw_key}"}
    session_cookies = {"sessionid": fixture["session_id"]}

    def key_authenticate() -> Any:
        result = authentication.authenticate(drf_request(key_headers))
        assert result is not None
        return result

    def session_authenticate() -> Any:
        result = session_authentication.authenticate(drf_request({}, cookies=session_cookies))
        assert result is not None
        return result

    def lookup_orm_select_related() -> Any:
        # The selector as it was before it read only what it checks: the ORM, key and tenant as full instances.
        from django.utils import timezone

        from tenants.keys import api_key_lookup_id
        from tenants.models import ApiKey

        found = ApiKey.objects.select_related("tenant").filter(lookup_id=api_key_lookup_id(raw_key)).first()
        assert found is not None
        assert api_key_matches(raw_key, found.key_hash)
        assert found.tenant.is_active
        assert found.is_usable_at(timezone.now())
        return found

    def lookup_values() -> Any:
        # The same row and checks with .values(): no model instances (what a leaner selector could do).
        from tenants.keys import api_key_lookup_id
        from tenants.models import ApiKey

        row = (
            ApiKey.objects.filter(lookup_id=api_key_lookup_id(raw_key))
            .values("key_hash", "status", "expires_at", "tenant__is_active")
            .first()
        )
        assert row is not None
        assert api_key_matches(raw_key, row["key_hash"])
        assert row["tenant__is_active"]
        return row

    def lookup_raw_sql() -> Any:
        from django.db import connection

        from tenants.keys import api_key_lookup_id

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT k.key_hash, k.status, k.expires_at, t.is_active FROM tenants_apikey k "
                "JOIN tenants_tenant t ON t.id = k.tenant_id WHERE k.lookup_id = %s",
                [api_key_lookup_id(raw_key)],
            )
            row = cursor.fetchone()
        assert row is not None
        assert api_key_matches(raw_key, row[0])
        assert row[3]
        return row

    figures = {
        "hash and constant-time compare (api_key_matches)": per_call(
            lambda: api_key_matches(raw_key, key_hash), calls=calls * 10
        ),
        "lookup, compare, tenant and expiry checks (api_key_get_for_authentication)": per_call(
            lambda: api_key_get_for_authentication(raw_key=raw_key), calls=calls
        ),
        "the previous selector, not the project's now: ORM with select_related('tenant')": per_call(
            lookup_orm_select_related, calls=calls
        ),
        "alternative, not the project's: the same lookup and checks with .values()": per_call(
            lookup_values, calls=calls
        ),
        "alternative, not the project's: the same lookup and checks by raw SQL": per_call(lookup_raw_sql, calls=calls),
        "last_used_at fresh: write skipped (api_key_mark_used)": per_call(
            lambda: api_key_mark_used(api_key=fresh_key), calls=calls * 10
        ),
        "last_used_at stale: conditional UPDATE (api_key_mark_used)": per_call(mark_used_stale, calls=calls // 4),
        "building the DRF request (middleware's session and lazy user, no authentication)": per_call(
            lambda: drf_request(key_headers), calls=calls
        ),
        "ApiKeyAuthentication.authenticate (request built inside)": per_call(key_authenticate, calls=calls),
        "SessionAuthentication.authenticate (request built inside)": per_call(session_authenticate, calls=calls),
    }
    api_key.refresh_from_db()
    return figures


# --- b. In process, whole requests ---------------------------------------------------------------------------------


def wsgi_get(handler: Any, path: str, headers: dict[str, str]) -> int:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.url_scheme": "http", "wsgi.version": (1, 0),
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False, **headers,
    }  # fmt: skip
    statuses: list[int] = []
    response = handler(environ, lambda status, _headers, exc_info=None: statuses.append(int(status.split()[0])))
    try:
        b"".join(response)
    finally:
        response.close()
    return statuses[0]


def whole_requests(fixture: dict[str, Any], *, calls: int) -> dict[str, Any]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    targets = request_headers(fixture)
    for name, (path, headers) in targets.items():
        for _ in range(20):
            status = wsgi_get(handler, path, headers)
        if status != 200:
            raise RuntimeError(f"{name}: GET {path} answered {status}")
    statements = {}
    for name, (path, headers) in targets.items():
        with CaptureQueriesContext(connection) as captured:
            wsgi_get(handler, path, headers)
        statements[name] = [query["sql"][:160] for query in captured.captured_queries]
    chunk = 50
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    wall: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(max(1, calls // chunk)):
        for name, (path, headers) in targets.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            for _ in range(chunk):
                wsgi_get(handler, path, headers)
            wall[name].append((time.perf_counter() - started) / chunk)
            cpu[name].append((time.process_time() - started_cpu) / chunk)
    figures: dict[str, Any] = {
        name: {
            "cpu_us": round(statistics.median(cpu[name]) * 1e6, 1),
            "wall_us": round(statistics.median(wall[name]) * 1e6, 1),
            "statements": len(statements[name]),
            "sql": statements[name],
        }
        for name in targets
    }
    open_cpu = figures["drf_open"]["cpu_us"]
    for name in ("drf_api_key", "drf_session", "api_v1_bots"):
        figures[name]["extra_cpu_us_over_drf_open"] = round(figures[name]["cpu_us"] - open_cpu, 1)
    return figures


def request_headers(fixture: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    key = {"HTTP_AUTHORIZATION": f"Api-Key {fixture['raw_key']}"}
    session = {"HTTP_COOKIE": f"sessionid={fixture['session_id']}"}
    return {
        "bare_django_view": (PATHS["bare_django_view"], {}),
        "drf_open": (PATHS["drf_open"], {}),
        "drf_api_key": (PATHS["drf_api_key"], key),
        "drf_session": (PATHS["drf_session"], session),
        "api_v1_bots": (PATHS["api_v1_bots"], key),
    }


# --- c. Through gunicorn ---------------------------------------------------------------------------------------------


def wrk_get(*, url: str, header: str | None, connections: int, duration: float) -> dict[str, Any]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "5s", "--latency", url]
    if header:
        command[1:1] = ["-H", header]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)  # noqa: S603
    output = completed.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    latency = {
        f"p{point}": _milliseconds(value, unit)
        for point, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    }
    return {
        "throughput_rps": float(rate.group(1)) if rate else 0.0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(value) for value in errors.groups()) if errors else 0,
        "latency_ms": latency,
        "command": " ".join(command).replace(header or "\0", "<credentials>"),
    }


def _milliseconds(value: str, unit: str) -> float:
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


def through_gunicorn(
    fixture: dict[str, Any], args: argparse.Namespace, environment: dict[str, str], database: str
) -> dict[str, Any]:
    headers = {
        "bare_django_view": None,
        "drf_open": None,
        "drf_api_key": f"Authorization: Api-Key {fixture['raw_key']}",
        "drf_session": f"Cookie: sessionid={fixture['session_id']}",
        "api_v1_bots": f"Authorization: Api-Key {fixture['raw_key']}",
    }
    server = Gunicorn(
        worker_class=args.worker_class, workers=args.workers, threads=args.threads, environment=environment
    )
    report: dict[str, Any] = {"gunicorn": {**server.config, "command": " ".join(server.command)}, "rounds": []}
    try:
        server.wait_healthy()
        base = f"http://127.0.0.1:{server.port}"
        for name, path in PATHS.items():  # warm-up: imports, connections, in every worker
            wrk_get(url=base + path, header=headers[name], connections=args.connections, duration=2)
        names = list(PATHS)
        for round_number in range(args.repeat):
            pair: dict[str, Any] = {}
            for name in names if round_number % 2 == 0 else names[::-1]:
                meter = CpuMeter(server, database)
                figures = wrk_get(
                    url=base + PATHS[name], header=headers[name], connections=args.connections,
                    duration=args.duration,
                )  # fmt: skip
                figures["cpu_cores"] = meter.cores()
                rate = figures["throughput_rps"] or 1.0
                figures["server_cpu_ms_per_request"] = round(
                    sum(figures["cpu_cores"][kind] for kind in ("gunicorn", "postgresql", "redis")) / rate * 1000, 3
                )
                pair[name] = figures
                print(
                    f"  round {round_number + 1} {name:17s} {figures['throughput_rps']:8.1f} req/s  "
                    f"p50 {figures['latency_ms'].get('p50', 0):6.2f} p99 {figures['latency_ms'].get('p99', 0):7.2f} ms"
                    f"  server CPU {figures['server_cpu_ms_per_request']:.3f} ms/req  non-2xx {figures['non_2xx']}"
                    f"  others {figures['cpu_cores']['other_processes']:.2f} cores"
                )
            report["rounds"].append(pair)
        report["median"] = {
            name: {
                "throughput_rps": round(statistics.median(r[name]["throughput_rps"] for r in report["rounds"]), 1),
                "server_cpu_ms_per_request": round(
                    statistics.median(r[name]["server_cpu_ms_per_request"] for r in report["rounds"]), 3
                ),
                "p99_ms": round(statistics.median(r[name]["latency_ms"].get("p99", 0) for r in report["rounds"]), 3),
                "non_2xx": sum(r[name]["non_2xx"] for r in report["rounds"]),
            }
            for name in names
        }
        median = report["median"]
        report["ratios"] = {
            f"{name}_over_{base_name}": {
                "throughput": round(median[name]["throughput_rps"] / median[base_name]["throughput_rps"], 3),
                "by_server_cpu": round(
                    median[base_name]["server_cpu_ms_per_request"] / median[name]["server_cpu_ms_per_request"], 3
                ),
            }
            for name, base_name in (
                ("drf_api_key", "drf_open"), ("drf_session", "drf_open"), ("drf_open", "bare_django_view"),
                ("api_v1_bots", "bare_django_view"), ("api_v1_bots", "drf_open"),
            )
        }  # fmt: skip
    finally:
        server.stop()
        report["gunicorn"]["error_log_tail"] = server.log_tail()
        Path(server.log.name).unlink(missing_ok=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="in-process calls per measurement (default 2000)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn worker class (default gthread)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker (default 8)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk phase (default 10)")
    parser.add_argument("--repeat", type=int, default=2, help="rounds through the five targets (default 2)")
    parser.add_argument("--in-process-only", action="store_true", help="skip gunicorn and wrk")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botyard_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--queue", default="bench-api-key-auth")
    args = parser.parse_args(argv)

    environment = bench_environment(args)
    environment["API_THROTTLE_RATE"] = "1000000000/min"  # the throttle still runs (a cache incr); it never says 429
    os.environ.clear()
    os.environ.update(environment)
    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    database_prepare(args.database_url, environment)

    import django

    django.setup()
    redis = redis_client(args.redis_url)
    report: dict[str, Any] = {
        **report_header(benchmark="api_key_auth", started_at=started_at, args=args, environment=environment),
        "leftovers_before": rows_cleanup(),
    }
    fixture = fixture_create(stamp)
    try:
        print("a. in process, the parts (per call):")
        report["parts"] = parts(fixture, calls=args.calls)
        for label, figures in report["parts"].items():
            print(f"  {label:86s} CPU {figures['cpu_us']:8.1f} us  wall {figures['wall_us']:8.1f} us  "
                  f"{figures['statements']} statements")  # fmt: skip
        print("b. in process, whole requests through Django's WSGI handler:")
        report["whole_requests"] = whole_requests(fixture, calls=args.calls)
        for label, figures in report["whole_requests"].items():
            print(f"  {label:17s} CPU {figures['cpu_us']:8.1f} us  wall {figures['wall_us']:8.1f} us  "
                  f"{figures['statements']} statements")  # fmt: skip
        if not args.in_process_only:
            from django.db import connections

            connections.close_all()
            print(f"c. through gunicorn ({args.worker_class} x{args.workers}, wrk -c {args.connections}):")
            database = urlsplit(args.database_url).path.lstrip("/")
            report["gunicorn"] = through_gunicorn(fixture, args, environment, database)
            for name, ratio in report["gunicorn"]["ratios"].items():
                print(f"  {name:36s} {ratio['throughput']:.3f} by throughput, {ratio['by_server_cpu']:.3f} by CPU")
    finally:
        report["cleanup"] = {"rows": rows_cleanup(), "redis_keys": redis_purge(redis, args.queue)}
        report["load_average_at_end"] = os.getloadavg()
        report["finished_at"] = datetime.now(UTC).isoformat()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        output = RESULTS_DIR / f"api_key_auth-{stamp}.json"
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nresults: {output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
