"""Benchmark of every dashboard page and the API lists on a tenant with a year of history.

    .venv/bin/python bench/dashboard.py [--interactions 1000000] [--requests 30] [--drop-database]

In one run, against a dedicated database (created and migrated here; its name must contain 'bench'):
1. loads a tenant with a year of history by COPY (bench/kpi_data.py, through bench/kpi_aggregation.py's helpers)
   and a second tenant with 20 times fewer rows, rolls both up (`kpi_aggregate_tenant(full=True)`), and adds what
   the loader does not make and the pages show: rules, sources of every kind, a sponsor's creative with its
   impressions, postback receipts, a reply part and a short URL for one interaction, team members, invitations;
2. collects the static files into a temporary directory (the production storage, as `DEBUG=false` needs; when
   collectstatic fails, the plain storage, and the error is in the results);
3. walks the URL configuration for every page under /t/<slug>/ (as tenants/tests/test_cross_tenant.py does), a
   page that needs an object getting a real one of the tenant, and requests each through Django's test client in
   process, logged in as the tenant's owner: warm-up requests, then --requests timed ones (p50/p95/max, process
   CPU), each followed by a request of the cheapest page (the floor: how slow the shared machine was right then),
   the SQL statements of one request (and their time), and the same page's statement count on the small tenant.
   Pages with a date range (a `since` field in their HTML) are measured for their default range and for a year;
   a few drill-down variants too. POST-only routes (405) are skipped; CSV downloads are a group of their own,
   each body streamed to the end;
4. measures the API lists with an API key (goal p95 <= 50 ms) on both tenants;
5. for a page over its goal: cProfile of a few requests and EXPLAIN ANALYZE of its slow statements;
6. writes bench/results/dashboard-<UTC timestamp>.json, prints a table, and empties the database (drops it with
   --drop-database; --keep-rows leaves everything, and --reuse-rows measures such a database again without loading).
"""

import argparse
import cProfile
import io
import json
import math
import pstats
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS_DIR = ROOT / "bench" / "results"
GOALS = {"page_p95_ms": 100, "export_p95_ms": None, "api_p95_ms": 50}
API_LISTS = ("interactions", "groups", "members", "conversions")
PREVIEW_TEXT = "!price please"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--small-interactions", type=int, default=None, help="second tenant; default N/20")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--busy-day-messages", type=int, default=100_000, help="one day of history this busy")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per page first")
    parser.add_argument("--export-requests", type=int, default=3, help="timed requests per CSV download")
    parser.add_argument("--api-requests", type=int, default=100, help="timed requests per API list and tenant")
    parser.add_argument("--only", default="", help="a regular expression: measure only the pages it finds")
    parser.add_argument("--explain-over-ms", type=float, default=20.0, help="EXPLAIN statements slower than this")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/botyard_dashbench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--drop-database", action="store_true")
    parser.add_argument("--keep-rows", action="store_true")
    parser.add_argument("--reuse-rows", action="store_true", help="measure the tenants a --keep-rows run left")
    parser.add_argument("--report", type=Path, help="print a results file's tables (markdown) and stop")
    args = parser.parse_args()
    if args.small_interactions is None:
        args.small_interactions = args.interactions // 20
    if args.small_interactions <= 0:
        parser.error("--small-interactions must be positive: the statement counts are compared with it")
    return args


# --- Data --------------------------------------------------------------------------------------------------------


def load_tenant(args: argparse.Namespace, *, label: str, interactions: int) -> dict[str, Any]:
    """A tenant of kpi_aggregation's shape: 4 bots in 4 groups, 2,000 members, `interactions` over --days."""
    from bench.kpi_aggregation import fixture_create, load_history

    fixture = fixture_create(label=label)
    history = argparse.Namespace(
        database_url=args.database_url, days=args.days, interactions=args.interactions,
        incremental_messages=args.busy_day_messages,
    )  # fmt: skip
    fixture["load"] = load_history(history, fixture, interactions)
    return fixture


RULES = (
    # (kind, pattern, intent): the loader's intents (bench/kpi_data.py INTENTS), matched as a tenant would
    ("command", "price", "price"),
    ("command", "help", "help"),
    ("keyword", "schedule", "schedule"),
    ("command", "deal", "deal"),
    ("regex", r"\b(rain|storm|weather)\b", "weather"),
    ("command", "joke", "joke"),
)


def extras_create(fixture: dict[str, Any]) -> dict[str, int]:
    """What the pages show and the loader does not make. Rows that grow with data (impressions, receipts) are
    made in proportion to it, set-based; the rest is configuration, the same for both tenants."""
    from django.db import connection
    from django.utils import timezone

    from bench.kpi_aggregation import OWNER_DOMAIN
    from bots.models import Bot, Interaction, ReplyPart
    from bots.services import rule_create
    from monetization.models import Conversion, InteractionLink, Link, MonetizationSource, PostbackReceipt
    from monetization.models import SponsoredImpression as Impression
    from monetization.services import link_create, source_create
    from monetization.sponsorship import creative_create
    from tenants.models import Membership, Role
    from tenants.services import api_key_create, membership_grant, user_get_or_create
    from tenants.tests.factories import InvitationFactory

    tenant = fixture["tenant"]
    link = Link.objects.get(pk=fixture["link"])
    link.name = "Shop"
    link.save(update_fields=["name"])
    for n in range(5):
        link_create(tenant=tenant, destination_url=f"https://shop.example/item-{n}", name=f"Item {n}")
    bots = list(Bot.objects.for_tenant(tenant).order_by("name"))
    for bot in bots:
        for priority, (kind, pattern, intent) in enumerate(RULES, start=1):
            rule_create(
                bot=bot, name=intent.title(), kind=kind, pattern=pattern, intent=intent, priority=priority * 10,
                response=f"{intent.title()}: see {{link}}" if intent in ("price", "deal") else f"About {intent}.",
                link=link if intent in ("price", "deal") else None,
            )  # fmt: skip
    sponsor = source_create(tenant=tenant, name="Lakeside Outfitters", kind=MonetizationSource.Kind.SPONSORSHIP)
    source_create(tenant=tenant, name="Members club", kind=MonetizationSource.Kind.SUBSCRIPTION)
    source_create(tenant=tenant, name="Tip jar", kind=MonetizationSource.Kind.DONATION)
    groups = [bot.group for bot in bots]
    creative = creative_create(
        tenant=tenant, source=sponsor, text="20% off kayaks this weekend", name="Kayak weekend", link=link,
        starts_at=timezone.now() - timedelta(days=400), groups=groups[:2],
    )  # fmt: skip
    creative_create(
        tenant=tenant, source=sponsor, text="Paddle club meets Saturday", name="Paddle club", mode="scheduled",
        post_times=["09:00", "17:30"], groups=groups,
    )  # fmt: skip

    owner = Membership.objects.for_tenant(tenant).get(role=Role.OWNER)
    for role in (Role.ADMIN, Role.ANALYST):
        user = user_get_or_create(email=f"{role}-{tenant.slug}@{OWNER_DOMAIN}")
        membership_grant(tenant=tenant, user=user, role=role)
    for n in range(3):
        InvitationFactory(  # type: ignore[no-untyped-call]
            tenant=tenant, email=f"invitee{n}-{tenant.slug}@example.com", invited_by=owner.user
        )
    api_key_create(tenant=tenant, name="Reporting", created_by=owner.user)

    # One interaction in full: the newest with a conversion, given its reply part, short URL and rule.
    shown = Conversion.objects.for_tenant(tenant).filter(interaction__isnull=False).order_by("-occurred_at").first()
    counts = {}
    if shown is not None:
        interaction = Interaction.objects.get(pk=shown.interaction_id)
        interaction.rule = interaction.bot.rules.filter(intent=interaction.intent).first()
        interaction.save(update_fields=["rule"])
        ReplyPart.objects.create(
            tenant=tenant, interaction=interaction, sequence=0, text=interaction.reply_text, status="sent",
            attempts=1, last_status_code=202, accepted_at=interaction.occurred_at + timedelta(milliseconds=450),
        )  # fmt: skip
        InteractionLink.objects.create(tenant=tenant, code=f"b{str(interaction.pk)[-12:]}", link=link,
                                       interaction=interaction)  # fmt: skip
        counts["showcase_interaction"] = 1

    with connection.cursor() as cursor:
        # Sponsored lines on 2 % of the replies sent in the creative's two groups, a day each in the tenant's zone.
        cursor.execute(
            f"""INSERT INTO {Impression._meta.db_table}
                  (id, tenant_id, created_at, creative_id, group_id, interaction_id, local_date, slot, sent_at,
                   member_count, text, status, attempts, last_error, updated_at)
                SELECT gen_random_uuid(), tenant_id, occurred_at, %(creative)s, group_id, id,
                       (occurred_at AT TIME ZONE %(zone)s)::date, '', occurred_at, 500, %(text)s, 'sent', 1, '',
                       occurred_at
                FROM {Interaction._meta.db_table}
                WHERE tenant_id = %(tenant)s AND group_id = ANY(%(groups)s) AND reply_status = 'sent'
                  AND abs(hashtext(id::text)) %% 50 = 0""",  # noqa: S608 - table names from the models
            {"creative": creative.pk, "zone": str(tenant.time_zone), "tenant": tenant.pk,
             "groups": [group.pk for group in groups[:2]], "text": f"{creative.text} (sponsored)"},
        )  # fmt: skip
        counts["sponsored_impressions"] = cursor.rowcount
        # What the sources reported: one receipt per conversion, 1 in 200 with another amount, a duplicate in 100.
        cursor.execute(
            f"""INSERT INTO {PostbackReceipt._meta.db_table}
                  (id, tenant_id, created_at, source_id, conversion_id, external_id, outcome, amount, currency,
                   duplicate, received_at)
                SELECT gen_random_uuid(), tenant_id, created_at, source_id, id, external_id, outcome,
                       CASE WHEN abs(hashtext(id::text)) %% 200 = 0 THEN amount + 100 ELSE amount END, currency,
                       false, created_at
                FROM {Conversion._meta.db_table} WHERE tenant_id = %(tenant)s
                UNION ALL
                SELECT gen_random_uuid(), tenant_id, created_at, source_id, id, external_id, outcome, amount,
                       currency, true, created_at + interval '5 seconds'
                FROM {Conversion._meta.db_table} WHERE tenant_id = %(tenant)s AND abs(hashtext(id::text)) %% 100 = 1
            """,  # noqa: S608 - table names from the models
            {"tenant": tenant.pk},
        )
        counts["postback_receipts"] = cursor.rowcount
        for model in (Impression, PostbackReceipt):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return counts


def tenants_reused() -> dict[str, dict[str, Any]]:
    """The tenants a --keep-rows run left, with a new API key each (only a key's hash is stored)."""
    from bench.kpi_aggregation import TENANT_PREFIX
    from tenants.models import Tenant
    from tenants.services import api_key_create

    found = {}
    for label in ("big", "small"):
        tenant = Tenant.objects.filter(name__startswith=f"{TENANT_PREFIX} {label}").order_by("-created_at").first()
        if tenant is None:
            raise SystemExit(f"--reuse-rows: no {label} tenant left by a --keep-rows run")
        found[label] = {"tenant": tenant, "api_key": api_key_create(tenant=tenant, name="bench").raw_key}
    return found


@dataclass
class Showcase:
    """The rows of one tenant that pages with an id in their URL are asked about."""

    tenant: Any
    owner: Any
    by_model: dict[type, Any] = field(default_factory=dict)
    today: Any = None


def showcase_find(tenant: Any) -> Showcase:
    from django.db.models import Count

    from analytics.periods import tenant_today
    from bots.models import Bot, Interaction, Rule
    from groups.models import Group
    from monetization.models import Conversion, Creative, Link, MonetizationSource
    from tenants.models import ApiKey, Invitation, Membership, Role

    owner = Membership.objects.for_tenant(tenant).select_related("user").get(role=Role.OWNER).user
    conversion = Conversion.objects.for_tenant(tenant).filter(interaction__isnull=False).order_by("-occurred_at")
    interaction_id = conversion.values_list("interaction_id", flat=True).first()
    bot = Bot.objects.for_tenant(tenant).order_by("name").first()  # Bot 0: the busiest (bench/kpi_data.py)
    by_model: dict[type, Any] = {
        Interaction: Interaction.objects.for_tenant(tenant).filter(pk=interaction_id).first(),
        Bot: bot,
        Group: Group.objects.for_tenant(tenant).filter(pk=bot.group_id).first() if bot else None,
        Rule: Rule.objects.for_tenant(tenant).filter(bot=bot).order_by("priority").first(),
        Link: Link.objects.for_tenant(tenant).annotate(n=Count("clicks")).order_by("-n").first(),
        MonetizationSource: MonetizationSource.objects.for_tenant(tenant).filter(kind="affiliate").first(),
        Creative: Creative.objects.for_tenant(tenant).order_by("created_at").first(),
        # Rows of POST-only actions: asked once, to see them answer 405 to a GET.
        ApiKey: ApiKey.objects.for_tenant(tenant).order_by("-created_at").first(),
        Invitation: Invitation.objects.for_tenant(tenant).order_by("created_at").first(),
        Membership: Membership.objects.for_tenant(tenant).filter(role=Role.ANALYST).first(),
    }
    return Showcase(tenant=tenant, owner=owner, by_model=by_model, today=tenant_today(tenant))


# --- Pages -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: frozenset[str]
    view_class: Any


def dashboard_routes() -> list[Route]:
    """Every named route with a `tenant_slug`, from the URL configuration (as tests/test_cross_tenant.py walks it)."""
    from django.urls import URLResolver, get_resolver

    def walk(entries: list[Any], namespace: str, kwargs: frozenset[str]) -> list[Route]:
        routes = []
        for entry in entries:
            found = kwargs | set(entry.pattern.regex.groupindex)
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                routes += walk(entry.url_patterns, inner, found)
            elif entry.name and "tenant_slug" in found:
                view_class = getattr(entry.callback, "view_class", None) or getattr(entry.callback, "cls", None)
                routes.append(Route(f"{namespace}{entry.name}", frozenset(found), view_class))
        return routes

    return walk(get_resolver().url_patterns, "", frozenset())


@dataclass(frozen=True)
class Request:
    key: str  # the same for both tenants: "<route name>" or "<route name> <variant>"
    route: str
    path: str
    headers: dict[str, str]
    export: bool


def route_path(route: Route, showcase: Showcase) -> str | None:
    """The route's URL for the showcase's rows: `pk` is a row of the view's model, `<x>_pk` that row's `x`."""
    from django.urls import reverse

    values = {"tenant_slug": showcase.tenant.slug}
    extra = route.kwargs - {"tenant_slug", "kind"}  # `kind`: the fixed extra argument of each CSV download URL
    if extra:
        model = getattr(route.view_class, "model", None)
        row = showcase.by_model.get(model) if model else None
        if row is None:
            return None
        for name in extra:
            values[name] = str(row.pk if name == "pk" else getattr(row, f"{name.removesuffix('_pk')}_id"))
    return reverse(route.name, kwargs=values)


def _query(path: str, **params: Any) -> str:
    from urllib.parse import urlencode

    return f"{path}?{urlencode(params)}" if params else path


def variants(route: str, path: str, showcase: Showcase) -> list[tuple[str, str, dict[str, str]]]:
    """(variant, path, headers) beyond the plain GET: what a page is mostly asked for besides its default."""
    from bots.models import Bot

    today = showcase.today
    month = {"since": (today - timedelta(days=29)).isoformat(), "until": today.isoformat()}
    bot = showcase.by_model.get(Bot)
    table: dict[str, list[tuple[str, str, dict[str, str]]]] = {
        "bots:preview": [("htmx", _query(path, message=PREVIEW_TEXT), {"HTTP_HX_REQUEST": "true"})],
        "bots:detail": [("with a preview", _query(path, message=PREVIEW_TEXT), {})],
        "bots:onboarding-first-message": [("htmx poll", path, {"HTTP_HX_REQUEST": "true"})],
        "interactions:list": [
            ("unhandled, 30 days (a tile's drill-down)", _query(path, handled="false", **month), {}),
            ("one bot, one intent", _query(path, bot=str(bot.pk) if bot else "", intent="joke"), {}),
        ],
        "groups:detail": [
            ("by name", _query(path, sort="name"), {}),
            ("seen most recently", _query(path, sort="-last_seen"), {}),
            ("searched", _query(path, q="Member 12"), {}),
        ],
        "money:conversions": [("purchases", _query(path, kind="purchase"), {})],
    }
    found = table.get(route, [])
    if route == "money:ledger":
        year = {"since": (today - timedelta(days=364)).isoformat(), "until": today.isoformat()}
        found = [(f"year, by {group_by}", _query(path, group_by=group_by, **year), {})
                 for group_by in ("day", "bot", "group", "kind")]  # fmt: skip
    return found


def year_path(path: str, showcase: Showcase) -> str:
    today = showcase.today
    return _query(path, since=(today - timedelta(days=364)).isoformat(), until=today.isoformat())


def fetch(client: Any, path: str, headers: dict[str, str]) -> tuple[Any, int]:
    """One GET, its body read to the end (a streamed download too); the response and the body's length."""
    response = client.get(path, **headers)
    if getattr(response, "streaming", False):
        size = sum(len(chunk) for chunk in response.streaming_content)
    else:
        size = len(response.content)
    response.close()
    return response, size


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def statements_of(captured: list[dict[str, Any]], timings: list[float]) -> list[dict[str, Any]]:
    """Each statement's kind, time and SQL. Times come from an execute wrapper (Django's query log rounds them to
    the millisecond); the log's own when a statement bypassed the wrapper and the two lists do not line up."""
    from bench.kpi_aggregation import statement_kind

    precise = len(timings) == len(captured)
    return [
        {"kind": statement_kind(q["sql"]), "ms": round((timings[i] if precise else float(q["time"])) * 1000, 2),
         "sql": q["sql"]}
        for i, q in enumerate(captured)
    ]  # fmt: skip


def captured_request(client: Any, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """One request with its SQL statements: how many, their time, and the request's time around them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings: list[float] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(time.perf_counter() - started)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
        started = time.perf_counter()
        response, size = fetch(client, path, headers)
        total_ms = (time.perf_counter() - started) * 1000
    statements = statements_of(captured.captured_queries, timings)
    statement_ms = sum(s["ms"] for s in statements)
    return {
        "status": response.status_code,
        "bytes": size,
        "statements": len(statements),
        "ms": round(total_ms, 2),
        "statement_ms": round(statement_ms, 2),
        "python_ms": round(total_ms - statement_ms, 2),
        "statement_list": statements,
        "location": response.get("Location", ""),
    }


FLOOR_ROUTE = "bots:create-manual"  # the cheapest page: session, user, membership, a small form; no figures


def measure(
    client: Any, request: Request, *, requests: int, warmup: int, floor: tuple[Any, Request] | None = None
) -> dict[str, Any]:
    """Warm-up, one request with its statements, then `requests` timed ones, each followed by one of `floor` (a
    client and the cheapest page): on a shared machine, its time at the same moments says how slow the machine was."""
    for _ in range(warmup):
        fetch(client, request.path, request.headers)
    one = captured_request(client, request.path, request.headers)
    latencies, floors = [], []
    load = Path("/proc/loadavg").read_text().split()[0]
    cpu = 0.0
    for _ in range(requests):
        cpu_started, started = time.process_time(), time.perf_counter()
        fetch(client, request.path, request.headers)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - cpu_started
        if floor is not None:
            started = time.perf_counter()
            fetch(floor[0], floor[1].path, floor[1].headers)
            floors.append((time.perf_counter() - started) * 1000)
    slowest = sorted(one["statement_list"], key=lambda s: -s["ms"])
    figures = {
        "path": request.path,
        "status": one["status"],
        "bytes": one["bytes"],
        "requests": requests,
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "max_ms": round(max(latencies), 2),
        "cpu_ms_per_request": round(cpu / requests * 1000, 2),
        "statements": one["statements"],
        "one_request": {"ms": one["ms"], "statement_ms": one["statement_ms"], "python_ms": one["python_ms"]},
        "statement_ms_of_one_request": [(s["kind"], s["ms"]) for s in one["statement_list"]],
        "slowest_statements": [{"ms": s["ms"], "kind": s["kind"], "sql": s["sql"][:600]} for s in slowest[:3]],
        "loadavg_1m_at_start": float(load),
    }
    if floors:
        figures["floor_p50_ms"] = round(statistics.median(floors), 2)
    cold = cold_measure(client, request, requests=requests, warm_statements=one["statements"])
    if cold is not None:
        figures["cold"] = cold
    return figures


def figures_forget() -> None:
    """The kept figures (analytics.figure_cache) and the record of what was viewed: a range nobody viewed in the
    last hour, whose figures the KPI job therefore did not compute. Bot health's past hours stay: the health job
    computes them at the start of every hour."""
    from django.core.cache import cache

    cache.delete_pattern("figures:*")  # type: ignore[attr-defined]  # django-redis


def cold_measure(client: Any, request: Request, *, requests: int, warm_statements: int) -> dict[str, Any] | None:
    """A page that keeps its figures per KPI run is also timed with them forgotten before each request: the first
    view of a range nobody viewed in the last hour. None for a page that keeps nothing."""
    figures_forget()
    one = captured_request(client, request.path, request.headers)
    if one["statements"] == warm_statements:
        return None
    latencies = []
    for _ in range(requests):
        figures_forget()
        started = time.perf_counter()
        fetch(client, request.path, request.headers)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "statements": one["statements"],
        "one_request": {"ms": one["ms"], "statement_ms": one["statement_ms"], "python_ms": one["python_ms"]},
        "statement_ms_of_one_request": [(s["kind"], s["ms"]) for s in one["statement_list"]],
    }


def requests_for(
    routes: list[Route], showcase: Showcase, client: Any, *, only: str
) -> tuple[list[Request], dict[str, str]]:
    """What to measure on this tenant: every GET page and its variants; why the others are not measured."""
    requests: list[Request] = []
    skipped: dict[str, str] = {}
    for route in sorted(routes, key=lambda r: r.name):
        path = route_path(route, showcase)
        if path is None:
            skipped[route.name] = "no row of its model in the tenant"
            continue
        export = path.endswith(".csv")
        candidates: list[tuple[str, str, dict[str, str]]] = [(route.name, path, {})]
        candidates += [(f"{route.name} {variant}", p, h) for variant, p, h in variants(route.name, path, showcase)]
        for key, candidate, headers in candidates:
            if only and not re.search(only, key):
                continue
            try:
                response = client.get(candidate, **headers)
            except Exception as error:  # a broken page is a finding, not the end of the run
                skipped[key] = f"raised {type(error).__name__}: {str(error)[:200]}"
                continue
            if response.status_code == 405:
                skipped[key] = "POST only (405 to a GET)"
                continue
            if response.status_code in (301, 302):
                skipped[key] = f"redirects ({response.status_code}) to {response['Location']}"
                continue
            if response.status_code not in (200, 204):
                skipped[key] = f"answered {response.status_code}"
                continue
            requests.append(Request(key, route.name, candidate, headers, export))
            response.close()  # a download's rows are not read here
            if key == route.name and (export or b'name="since"' in response.content):
                requests.append(Request(f"{route.name} year", route.name, year_path(candidate, showcase), headers,
                                        export))  # fmt: skip
    return requests, skipped


def explain(sql: str) -> list[str]:
    from django.db import connection

    if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def diagnose(client: Any, request: Request, *, explain_over_ms: float) -> dict[str, Any]:
    """Where a slow page's time goes: its statements (the slow ones explained) and a profile of its Python."""
    one = captured_request(client, request.path, request.headers)
    slow = [s for s in one["statement_list"] if s["ms"] >= explain_over_ms]
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(3):
        fetch(client, request.path, request.headers)
    profile.disable()

    def printed(order: str, *restrictions: Any) -> list[str]:
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats(order).print_stats(*restrictions)
        lines = [line for line in text.getvalue().splitlines() if line.strip()]
        return lines[next((i for i, line in enumerate(lines) if "ncalls" in line), 0) :]

    return {
        "one_request": {k: one[k] for k in ("ms", "statement_ms", "python_ms", "statements")},
        "slow_statements": [
            {"ms": s["ms"], "kind": s["kind"], "sql": s["sql"], "plan": explain(s["sql"])} for s in slow
        ],
        # The project's own functions by time spent in them and what they call; then anything by its own time.
        "profile_3_requests_project_cumulative": printed("cumulative", str(ROOT) + r"/(?!\.venv|bench/)", 25),
        "profile_3_requests_tottime": printed("tottime", 15),
    }


# --- API ---------------------------------------------------------------------------------------------------------


def api_paths(showcase: Showcase) -> dict[str, str]:
    today = showcase.today
    paths = {name: f"/api/v1/{name}/" for name in API_LISTS}
    paths["kpis (a year)"] = f"/api/v1/kpis/?start={today - timedelta(days=365)}&end={today}"
    return paths


def api_measure(
    api_key: str, showcase: Showcase, *, requests: int, warmup: int, floor: tuple[Any, Request] | None = None
) -> dict[str, Any]:
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1", HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    figures = {}
    for name, path in api_paths(showcase).items():
        request = Request(name, name, path, {}, False)
        figures[name] = measure(client, request, requests=requests, warmup=warmup, floor=floor)
        assert figures[name]["status"] == 200, (path, figures[name]["status"])
    return figures


# --- Run ---------------------------------------------------------------------------------------------------------


def static_collect() -> tuple[list[Any], dict[str, Any]]:
    """With DEBUG off, `{% static %}` needs collected files (hashed names from a manifest): collected into a
    temporary directory, so the repository's tree is left alone. When collectstatic fails, the pages are measured
    with the plain storage DEBUG uses (a path join instead of a dict lookup: the same cost) and the error is kept."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    directory = tempfile.TemporaryDirectory(prefix="dashbench-static-")
    started = time.perf_counter()
    override = override_settings(STATIC_ROOT=directory.name)
    override.enable()
    undo = [override]
    figures: dict[str, Any] = {"storage": settings.STORAGES["staticfiles"]["BACKEND"]}
    try:
        call_command("collectstatic", interactive=False, verbosity=0)
    except Exception as error:  # a finding for the results; the pages can still be measured
        figures["collectstatic_error"] = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        plain = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        fallback = override_settings(STORAGES=plain)
        fallback.enable()
        undo.insert(0, fallback)
        figures["storage"] = plain["staticfiles"]["BACKEND"] + " (fallback)"
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return [*undo, directory], figures


def summary_table(result: dict[str, Any]) -> str:
    """The run as markdown tables: pages, downloads, API lists; statements on the big and the small tenant."""
    lines = [
        "| page | p50 ms | p95 ms | floor p50 ms | CPU ms | SQL ms (one request) | statements big / small | p95 goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for group, goal in (("pages", GOALS["page_p95_ms"]), ("exports", None)):
        if group == "exports":
            lines += [
                "",
                "| CSV download (body streamed) | p50 ms | p95 ms | floor p50 ms | CPU ms | SQL ms (one request) | "
                "statements big / small | bytes |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
        for key, figures in result.get(group, {}).items():
            small = figures.get("small_tenant", {}).get("statements", "-")
            same = "" if small in ("-", figures["statements"]) else " **differs**"
            last = figures["bytes"] if goal is None else ("ok" if figures["p95_ms"] <= goal else "**missed**")
            lines.append(
                f"| `{key}` | {figures['p50_ms']} | {figures['p95_ms']} | {figures.get('floor_p50_ms', '-')} | "
                f"{figures['cpu_ms_per_request']} | "
                f"{figures['one_request']['statement_ms']} | {figures['statements']} / {small}{same} | {last} |"
            )
            if cold := figures.get("cold"):
                verdict = "-" if goal is None else ("ok" if cold["p95_ms"] <= goal else "**missed**")
                lines.append(
                    f"| `{key}`, first view of a range not viewed lately | {cold['p50_ms']} | {cold['p95_ms']} | | | "
                    f"{cold['one_request']['statement_ms']} | {cold['statements']} | {verdict} |"
                )
    lines += ["", "| API list (API key) | tenant | p50 ms | p95 ms | floor p50 ms | CPU ms | statements | p95 goal |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for tenant, lists in result.get("api", {}).items():
        for key, figures in lists.items():
            verdict = "ok" if figures["p95_ms"] <= GOALS["api_p95_ms"] else "**missed**"
            lines.append(f"| `{key}` | {tenant} | {figures['p50_ms']} | {figures['p95_ms']} | "
                         f"{figures.get('floor_p50_ms', '-')} | {figures['cpu_ms_per_request']} | "
                         f"{figures['statements']} | {verdict} |")  # fmt: skip
            if cold := figures.get("cold"):
                verdict = "ok" if cold["p95_ms"] <= GOALS["api_p95_ms"] else "**missed**"
                lines.append(f"| `{key}`, first view of a range not viewed lately | {tenant} | {cold['p50_ms']} | "
                             f"{cold['p95_ms']} | | | {cold['statements']} | {verdict} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    if args.report:
        print(summary_table(json.loads(args.report.read_text())))
        return 0
    from bench.kpi_aggregation import environment_set

    environment = environment_set(args)
    from bench.callback_ingest import database_prepare

    database_prepare(args.database_url, environment)
    import django

    django.setup()
    from django.test import Client

    from analytics.services import kpi_aggregate_tenant
    from bench.kpi_aggregation import database_drop_if_asked, machine, results_write, rows_cleanup, vacuum_analyze

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result: dict[str, Any] = {
        "benchmark": "dashboard",
        "started_at": stamp,
        "machine": machine(),
        "command": " ".join([".venv/bin/python", *sys.argv]),
        "sizes": {
            "interactions": args.interactions,
            "small_tenant_interactions": args.small_interactions,
            "days": args.days,
            "busy_day_messages": args.busy_day_messages,
        },
        "settings": {
            "requests": args.requests,
            "warmup": args.warmup,
            "export_requests": args.export_requests,
            "api_requests": args.api_requests,
            "percentile": "nearest rank",
            "client": "django.test.Client in process (no HTTP server), force_login as the owner, after importing "
            "config.wsgi as a web worker does",
            "database_url": args.database_url,
            "redis_url": args.redis_url,
        },
        "goals": GOALS,
    }
    static, result["static_files"] = static_collect()
    clients: list[Any] = []
    try:
        if args.reuse_rows:
            fixtures = tenants_reused()
            result["data"] = "reused the rows of an earlier --keep-rows run"
        else:
            print(f"removing leftovers: {rows_cleanup(args.database_url)}", flush=True)
            fixtures = {}
            for label, count in (("big", args.interactions), ("small", args.small_interactions)):
                print(f"loading {label}: {count:,} interactions ...", flush=True)
                fixtures[label] = load_tenant(args, label=label, interactions=count)
                result[f"load_{label}"] = fixtures[label]["load"]
                print(f"  {fixtures[label]['load']}", flush=True)
            result["vacuum_analyze_seconds"] = vacuum_analyze(args.database_url)
            for label, fixture in fixtures.items():
                started = time.perf_counter()
                report = kpi_aggregate_tenant(tenant=fixture["tenant"], full=True)
                result[f"kpi_rebuild_{label}"] = {"seconds": round(time.perf_counter() - started, 1),
                                                  "days": report.days, "rows": report.rows}  # fmt: skip
                result[f"extras_{label}"] = extras_create(fixture)
                print(f"  {label}: rollup {result[f'kpi_rebuild_{label}']}, extras {result[f'extras_{label}']}",
                      flush=True)  # fmt: skip
        showcases = {label: showcase_find(fixture["tenant"]) for label, fixture in fixtures.items()}
        result["tenants"] = {label: {"slug": s.tenant.slug, "time_zone": str(s.tenant.time_zone),
                                     "rows_shown": {m.__name__: str(r.pk) if r else None
                                                    for m, r in s.by_model.items()}}
                             for label, s in showcases.items()}  # fmt: skip
        for showcase in showcases.values():
            client = Client(SERVER_NAME="127.0.0.1")
            client.force_login(showcase.owner)
            clients.append(client)
        big, small = clients
        routes = dashboard_routes()
        result["routes_found"] = sorted(route.name for route in routes)
        big_requests, result["not_measured"] = requests_for(routes, showcases["big"], big, only=args.only)
        floor_path = route_path(next(r for r in routes if r.name == FLOOR_ROUTE), showcases["big"])
        floor = Request(FLOOR_ROUTE, FLOOR_ROUTE, str(floor_path), {}, False)
        small_requests = {r.key: r for r in requests_for(routes, showcases["small"], small, only=args.only)[0]}
        # The process as a web worker is once it has loaded the app: config.wsgi imports the backends and freezes
        # what loading made out of the garbage collector's full collections.
        import config.wsgi  # noqa: F401

        result["loadavg_before_measuring"] = Path("/proc/loadavg").read_text().split()[:3]
        result["pages"], result["exports"] = {}, {}
        for request in big_requests:
            group = "exports" if request.export else "pages"
            count = args.export_requests if request.export else args.requests
            warmup = 1 if request.export else args.warmup
            figures = measure(big, request, requests=count, warmup=warmup, floor=(big, floor))
            mirror = small_requests.get(request.key)
            if mirror is not None:
                for _ in range(2):
                    fetch(small, mirror.path, mirror.headers)
                one = captured_request(small, mirror.path, mirror.headers)
                timed = []
                for _ in range(5):
                    started = time.perf_counter()
                    fetch(small, mirror.path, mirror.headers)
                    timed.append((time.perf_counter() - started) * 1000)
                figures["small_tenant"] = {
                    "statements": one["statements"],
                    "p50_ms_of_5": round(statistics.median(timed), 2),
                    "statement_kinds": [s["kind"] for s in one["statement_list"]],
                }
            result[group][request.key] = figures
            print(f"{request.key:<60} p50 {figures['p50_ms']:>8} p95 {figures['p95_ms']:>8} ms  "
                  f"{figures['statements']:>3} statements (small: "
                  f"{figures.get('small_tenant', {}).get('statements', '-')})", flush=True)  # fmt: skip

        result["api"] = {}
        for label, fixture in fixtures.items() if args.api_requests else ():
            result["api"][label] = api_measure(fixture["api_key"], showcases[label], requests=args.api_requests,
                                               warmup=args.warmup, floor=(big, floor))  # fmt: skip
        result["loadavg_after_measuring"] = Path("/proc/loadavg").read_text().split()[:3]

        slow = {key: f for key, f in result["pages"].items() if f["p95_ms"] > GOALS["page_p95_ms"]}
        by_key = {request.key: request for request in big_requests}
        result["diagnosis"] = {key: diagnose(big, by_key[key], explain_over_ms=args.explain_over_ms) for key in slow}
        api_statements = {
            name: {label: figures[name]["statements"] for label, figures in result["api"].items()}
            for name in result["api"].get("big", {})
        }
        result["verdicts"] = {
            "pages_p95_le_100ms": {k: f["p95_ms"] <= GOALS["page_p95_ms"] for k, f in result["pages"].items()},
            "pages_cold_p95_le_100ms": {k: f["cold"]["p95_ms"] <= GOALS["page_p95_ms"]
                                        for k, f in result["pages"].items() if "cold" in f},
            "pages_over_goal": sorted(slow),
            "statements_equal_big_and_small": {
                k: f["statements"] == f["small_tenant"]["statements"]
                for group in ("pages", "exports") for k, f in result[group].items() if "small_tenant" in f
            },
            "api_p95_le_50ms": {f"{label} {name}": f["p95_ms"] <= GOALS["api_p95_ms"]
                                for label, lists in result["api"].items() for name, f in lists.items()},
            "api_statements_equal_big_and_small": {n: len(set(c.values())) == 1 for n, c in api_statements.items()},
        }  # fmt: skip
        print(summary_table(result))
    finally:
        result["finished_at"] = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for client in clients:
            client.logout()  # its session row
        for undo in static:
            undo.disable() if hasattr(undo, "disable") else undo.cleanup()
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"dashboard-{stamp}.json"
        results_write(args, result, path)
    database_drop_if_asked(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
