"""Many observations into a Prometheus histogram at once.

`Histogram.observe` costs a Python loop over the buckets per value; the dataflow has a
latency per event, thousands per batch. numpy bins a batch in one call, then each bucket
and the sum are incremented once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from prometheus_client import Histogram


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """The same as `for v in values: histogram.observe(v)` for a labelled child (or an unlabelled histogram)."""
    if not values:
        return
    array = np.asarray(values, dtype=float)
    # prometheus_client keeps per-bucket (not cumulative) counts, each value in the first
    # bucket whose upper bound holds it (the last bound is +Inf): `searchsorted(..., "left")`.
    bounds = np.asarray(histogram._upper_bounds, dtype=float)  # noqa: SLF001 - no public bulk API
    counts = np.bincount(np.searchsorted(bounds, array, side="left"), minlength=len(bounds))
    for bucket, count in zip(histogram._buckets, counts.tolist(), strict=True):  # noqa: SLF001
        if count:
            bucket.inc(count)
    histogram._sum.inc(float(array.sum()))  # noqa: SLF001
