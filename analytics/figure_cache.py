"""Figures computed once per KPI run and kept in the cache until the next one.

What the overview, the analytics page and the KPI API show for a range is a function of the rollups, which change
only when the KPI job runs (every few minutes), and of a few raw reads (the funnel for a fixed window; a bot's
engaged members) that the page already presents "as of" that run. So a range's figures are computed once per run
and served from the cache until the run after: the key carries the run (the watermark row's `updated_at`, which
every run and every rebuild rewrites), so a run never serves figures of the one before it. Before the first run
there is nothing to keep.

The job itself computes, right after a tenant's run (`figures_refresh_viewed`):
- the figures of every range someone viewed in the last hour: a dashboard that is being looked at is ready before
  it is asked for again;
- for a tenant whose staff viewed the overview or the analytics page in the last day, what those pages show when
  nothing is chosen (`analytics.forms.default_queries`): the first view of the day is ready too, though
  its range moved on with the date.
A view computes figures only for a range nobody looked at lately.

Keys name the tenant: `figures:set:<tenant id>:<run>:<digest of the kind and the query>`, the ranges viewed
`figures:viewed:<tenant id>:`, and the mark of a tenant whose pages are in use `figures:used:<tenant id>:`. A cache
that is down answers nothing and the figures are computed on every view.
"""

import hashlib
import json
import logging
from datetime import date
from typing import Any

from django.core.cache import cache

from analytics.api.params import AnalyticsQuery
from analytics.figure_sets import FIGURE_SETS
from analytics.forms import default_queries
from analytics.selectors import KpiRun, KpiScope, kpi_last_run
from tenants.models import Tenant

logger = logging.getLogger("botyard.analytics")

# Longer than the KPI job's interval, so a range viewed again before the next run is not computed twice; entries
# of an earlier run are never read again and expire.
FIGURES_CACHE_SECONDS = 15 * 60
# A range viewed this recently is computed by the job after each run.
VIEWED_SECONDS = 60 * 60
VIEWED_MAX = 20  # ranges per tenant; the least recently computed go first
# A tenant whose pages were viewed this recently has their default views computed by the job after each run
# (0.10-0.14 s of job time per tenant and run on the benchmark machine): a day and a bit, so staff who look every
# morning find them ready, and a tenant gone quiet costs the job nothing the day after.
USED_SECONDS = 26 * 60 * 60
PAGE_KINDS = ("overview", "analytics")


def _params(query: AnalyticsQuery) -> dict[str, Any]:
    """Everything of a query that changes its figures, the tenant's zone included (it cuts the days); plain values,
    so the job can rebuild the query (`_query`)."""
    return {
        "zone": str(query.scope.tenant.time_zone),
        "bot": str(query.scope.bot_id) if query.scope.bot_id is not None else None,
        "group": str(query.scope.group_id) if query.scope.group_id is not None else None,
        "group_of_bot": str(query.group_of_bot) if query.group_of_bot is not None else None,
        "start": query.start.isoformat(),
        "end": query.end.isoformat(),
        "granularity": query.granularity,
        "numbers": dict(sorted(query.numbers.items())),
    }


def _query(tenant: Tenant, params: dict[str, Any]) -> AnalyticsQuery:
    return AnalyticsQuery(
        scope=KpiScope(tenant=tenant, bot_id=params["bot"], group_id=params["group"]),
        start=date.fromisoformat(params["start"]),
        end=date.fromisoformat(params["end"]),
        granularity=params["granularity"],
        numbers=params["numbers"],
        group_of_bot=params["group_of_bot"],
    )


def _digest(kind: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode()).hexdigest()[:32]


def _key(tenant: Tenant, run: KpiRun, digest: str) -> str:
    return f"figures:set:{tenant.pk}:{run.marked_at.timestamp():.6f}:{digest}"


def figures_for(*, tenant: Tenant, run: KpiRun | None, kind: str, query: AnalyticsQuery) -> Any:
    """The `kind` figures (analytics.figure_sets) of `query` as of the KPI run `run`, computed at most once per run;
    before the first run (None) on every call."""
    compute = FIGURE_SETS[kind]
    if run is None:
        return compute(query)
    params = _params(query)
    digest = _digest(kind, params)
    key = _key(tenant, run, digest)
    figures = cache.get(key)
    if figures is None:
        figures = compute(query)
        cache.set(key, figures, FIGURES_CACHE_SECONDS)
        _viewed_add(tenant, digest=digest, kind=kind, params=params)
    if kind in PAGE_KINDS:
        cache.set(_used_key(tenant), True, USED_SECONDS)
    return figures


def _used_key(tenant: Tenant) -> str:
    return f"figures:used:{tenant.pk}:"


def _viewed_key(tenant: Tenant) -> str:
    return f"figures:viewed:{tenant.pk}:"


def _viewed_add(tenant: Tenant, *, digest: str, kind: str, params: dict[str, Any]) -> None:
    # Only a computed view records its range: a range the job keeps computing is viewed from the cache, and its
    # record lapses an hour after the view that computed it (then one view computes it again). Read-modify-write
    # without a lock: two views at once may drop one record, which costs that range one computed view.
    viewed: dict[str, tuple[str, dict[str, Any]]] = cache.get(_viewed_key(tenant)) or {}
    viewed.pop(digest, None)
    viewed[digest] = (kind, params)
    while len(viewed) > VIEWED_MAX:
        viewed.pop(next(iter(viewed)))
    cache.set(_viewed_key(tenant), viewed, VIEWED_SECONDS)


def _to_refresh(tenant: Tenant) -> dict[str, tuple[str, dict[str, Any]]]:
    """Digest -> (kind, params) of what the job computes for the tenant: the ranges viewed lately, and the pages'
    default views while the pages are in use."""
    viewed: dict[str, tuple[str, dict[str, Any]]] = cache.get(_viewed_key(tenant)) or {}
    wanted = {
        digest: (kind, params)
        for digest, (kind, params) in viewed.items()
        # a zone changed since cuts other days: that view's query is gone
        if kind in FIGURE_SETS and params.get("zone") == str(tenant.time_zone)
    }
    if cache.get(_used_key(tenant)):
        for kind, query in default_queries(tenant=tenant).items():
            params = _params(query)
            wanted[_digest(kind, params)] = (kind, params)
    return wanted


def figures_refresh_viewed(*, tenant: Tenant) -> int:
    """After a KPI run of `tenant`: the figures of each range viewed in the last hour, and of the pages' default
    views while they are in use, computed for the new run (the ones already there are left); how many were
    computed. A failure is logged, never the job's."""
    computed = 0
    try:
        wanted = _to_refresh(tenant)
        run = kpi_last_run(tenant=tenant) if wanted else None
        if run is None:
            return computed
        for digest, (kind, params) in wanted.items():
            key = _key(tenant, run, digest)
            if cache.get(key) is None:
                cache.set(key, FIGURE_SETS[kind](_query(tenant, params)), FIGURES_CACHE_SECONDS)
                computed += 1
    except Exception:
        logger.exception("figures of viewed ranges could not be computed", extra={"tenant": str(tenant.pk)})
    return computed
