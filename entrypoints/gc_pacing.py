"""CPython's cyclic garbage collector, run between batches and rarely, not in the middle of them.

Measured on `analytics bench`: with the collector on its own schedule a worker spent 12-20% of
its time in it, most of it in young-generation passes (10-50 ms each) that landed mid-batch,
scanned the batch's tens of thousands of live objects and promoted them to older generations,
which then made the older passes slow too (0.5 s). A young pass after every batch was still
10%, and one every 10 s still 4%: a pass costs what is alive when it runs (the batches the
decoder already holds, 0.3-0.6 s of scanning), however long since the last. Nearly everything
the dataflow allocates is freed by reference counting, and cycles are rare, so passes run on
a slow clock, right after a commit: young every `young_every_s`, middle every
`middle_every_s`, full every `full_every_s`. The automatic collector stays on as a safety
net, at thresholds so high that it acts only if live objects ever pile up by the million.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

SAFETY_NET_THRESHOLDS = (1_000_000, 100, 100)


class BatchPacedCollector:
    def __init__(
        self,
        *,
        young_every_s: float = 60.0,
        middle_every_s: float = 300.0,
        full_every_s: float = 900.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._every = (young_every_s, middle_every_s, full_every_s)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last = [monotonic()] * 3

    def start(self) -> None:
        """Collect once, freeze what start-up left (modules, models: never garbage), pace the rest."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(*SAFETY_NET_THRESHOLDS)
        with self._lock:
            self._last = [self._monotonic()] * 3

    def batch_done(self) -> int | None:
        """Call after each committed batch; returns the generation it collected, if one was due."""
        with self._lock:
            now = self._monotonic()
            due = [g for g in (2, 1, 0) if now - self._last[g] >= self._every[g]]
            if not due:
                return None
            generation = due[0]  # the oldest due; a pass of a generation covers the younger ones
            for g in range(generation + 1):
                self._last[g] = now
        gc.collect(generation)
        return generation
