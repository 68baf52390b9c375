"""Figures computed once per KPI run and kept in the cache until the next one.

What the overview, the analytics page and the KPI API show for a range is a function of the rollups, which change
only when the KPI job runs (every few minutes), and of a few raw reads (the funnel's conversions, engaged members)
that the page already presents "as of" that run. So a range's figures are computed on its first view after a run
and served from the cache until the run after: the key carries the run (the watermark row's `updated_at`, which
every run and every rebuild rewrites), so a run never serves figures of the one before it. Before the first run
there is nothing to keep.

Keys name the tenant: `figures:<kind>:<tenant id>:<run>:<digest of the query>`. A cache that is down answers
nothing and the figures are computed as if it were the first view.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from django.core.cache import cache

from analytics.api.params import AnalyticsQuery
from tenants.models import Tenant

T = TypeVar("T")

# Longer than the KPI job's interval, so a range viewed again before the next run is not computed twice; entries
# of an earlier run are never read again and expire.
FIGURES_CACHE_SECONDS = 15 * 60


def query_params(query: AnalyticsQuery) -> dict[str, Any]:
    """Everything of a query that changes its figures, the tenant's zone included (it cuts the days)."""
    return {
        "zone": str(query.scope.tenant.time_zone),
        "bot": query.scope.bot_id,
        "group": query.scope.group_id,
        "group_of_bot": query.group_of_bot,
        "start": query.start,
        "end": query.end,
        "granularity": query.granularity,
        "numbers": query.numbers,
    }


def figures_cached(
    *, tenant: Tenant, run: datetime | None, kind: str, params: Mapping[str, Any], compute: Callable[[], T]
) -> T:
    """`compute()`'s figures for the KPI run `run` (None before the first run: computed every time)."""
    if run is None:
        return compute()
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]
    key = f"figures:{kind}:{tenant.pk}:{run.timestamp():.6f}:{digest}"
    figures: T | None = cache.get(key)
    if figures is None:
        figures = compute()
        cache.set(key, figures, FIGURES_CACHE_SECONDS)
    return figures
