"""Response times as counts over fixed, roughly logarithmic buckets: mergeable by adding, percentiles by walking.

The last bucket is open-ended. A percentile is interpolated linearly inside the bucket that holds it, so two
histograms of the same values always give the same percentile, whichever way they were merged.
"""

from collections.abc import Iterable

# Upper bounds (ms) of every bucket but the last.
BUCKET_BOUNDS_MS: tuple[int, ...] = (
    10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 30000,
    60000,
)  # fmt: skip
BUCKETS = len(BUCKET_BOUNDS_MS) + 1


def bucket_of(milliseconds: float) -> int:
    for index, bound in enumerate(BUCKET_BOUNDS_MS):
        if milliseconds < bound:
            return index
    return BUCKETS - 1


def histogram_of(values: Iterable[float]) -> list[int]:
    counts = [0] * BUCKETS
    for value in values:
        counts[bucket_of(value)] += 1
    return counts


def histogram_merge(histograms: Iterable[list[int]]) -> list[int]:
    merged = [0] * BUCKETS
    for counts in histograms:
        for index, count in enumerate(counts or []):
            merged[index] += count
    return merged


def histogram_percentile(counts: list[int], fraction: float) -> int | None:
    """The `fraction` (0..1) percentile in ms, or None with no values."""
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = BUCKET_BOUNDS_MS[index - 1] if index > 0 else 0
            upper = BUCKET_BOUNDS_MS[index] if index < len(BUCKET_BOUNDS_MS) else lower * 2
            return round(lower + (upper - lower) * (rank - seen) / count)
        seen += count
    return BUCKET_BOUNDS_MS[-1] * 2
