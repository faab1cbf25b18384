"""CPython's cyclic garbage collector, run between batches instead of in the middle of them.

Measured on `analytics bench`: with the collector on its own schedule a worker spent 12-20% of
its time in it, most of it in young-generation passes (10-50 ms each) that landed mid-batch,
scanned the batch's tens of thousands of live objects and promoted them to older generations,
which then made the older passes slow too (0.5 s). Nearly everything the dataflow allocates
is freed by reference counting the moment its batch is committed, so right after a commit
the young generation holds little: that is when to collect. Cycles among long-lived objects
are still found by a middle pass every `middle_every` batches and a full one every
`full_every_s` seconds; the automatic collector stays on, with thresholds so high that it
only acts if allocations ever pile up without batches.
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
        middle_every: int = 50,
        full_every_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._middle_every = middle_every
        self._full_every_s = full_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._batches = 0
        self._last_full = monotonic()

    def start(self) -> None:
        """Collect once, freeze what start-up left (modules, models: never garbage), pace the rest."""
        gc.collect()
        gc.freeze()
        gc.set_threshold(*SAFETY_NET_THRESHOLDS)
        with self._lock:
            self._last_full = self._monotonic()

    def batch_done(self) -> int:
        """Call after each committed batch; returns the generation it collected."""
        with self._lock:
            self._batches += 1
            now = self._monotonic()
            if now - self._last_full >= self._full_every_s:
                self._last_full = now
                generation = 2
            else:
                generation = 1 if self._batches % self._middle_every == 0 else 0
        gc.collect(generation)
        return generation
