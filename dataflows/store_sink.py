"""`StoreSink`: the Bytewax output that records batches in the event store.

One sink partition per Kafka partition, so each partition's batches are written
by exactly one writer, in log order; the offset commits with the data. Transient
storage errors are retried with backoff (the platform heals itself after a
database restart); anything else stops the flow, and a restart resumes from the
last committed offset.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from application.messages import BatchOutcome, IngestBatch
from domain.errors import BrokerUnavailable, StorageUnavailable

log = logging.getLogger(__name__)

RecordBatch = Callable[[IngestBatch], BatchOutcome]
OnRecorded = Callable[[IngestBatch, BatchOutcome], None]
OnClosed = Callable[[int], None]


def merge_batches(batches: list[IngestBatch]) -> IngestBatch:
    """Consecutive batches of one partition as one (one transaction instead of many)."""
    if len(batches) == 1:
        return batches[0]
    events = [e for b in batches for e in b.events]
    failures = [f for b in batches for f in b.failures]
    started = min((b.started for b in batches if b.started is not None), default=None)
    return IngestBatch(position=batches[-1].position, events=events, failures=failures, started=started)


def _size(item: IngestBatch | None) -> int:
    return 0 if item is None else len(item.events) + len(item.failures)


class Backlog:
    """The batches waiting for one partition's writer, bounded by the records they hold.

    A bound in batches would not do: at a steady rate the source hands over a small batch each
    poll, so two batches' room filled within a few milliseconds of a transaction starting, the
    worker then stopped reading, and what arrived meanwhile waited in the consumer until the
    next transaction began, so most records waited out one whole transaction before their own
    (10,000 events/s offered, three pairs in turn: p50 140-239 -> 104-121 ms, p99 285-495 -> 196-271 ms).
    A batch is taken when it fits, or when the backlog is empty however large it is.
    """

    def __init__(self, max_records: int) -> None:
        self._max_records = max_records
        self._items: list[IngestBatch | None] = []
        self._records = 0
        self._changed = threading.Condition()

    def put(self, item: IngestBatch | None, timeout: float) -> bool:
        """Queue `item` (None: no more will come); False if it did not fit within `timeout` seconds."""
        size = _size(item)

        def fits() -> bool:
            return not self._items or self._records + size <= self._max_records

        with self._changed:
            if not self._changed.wait_for(fits, timeout):
                return False
            self._items.append(item)
            self._records += size
            self._changed.notify_all()
            return True

    def take_all(self) -> list[IngestBatch | None]:
        """Everything queued, in order, waiting until there is something."""
        with self._changed:
            self._changed.wait_for(lambda: self._items)
            taken, self._items, self._records = self._items, [], 0
            self._changed.notify_all()
            return taken


class _StorePartition(StatefulSinkPartition[IngestBatch, int | None]):
    """Writes on a thread of its own, so the worker decodes batch n+1 while batch n commits.

    Batches keep their order (one writer, FIFO) and batches that queued up meanwhile
    commit together. Nothing is acknowledged to Kafka, so a batch still queued when the
    process dies is simply read again: the queue adds throughput, not risk. On close, once
    every queued batch is committed, `on_closed(partition)` runs (the scorer saves its state).
    """

    def __init__(
        self, partition: int, record: RecordBatch, on_recorded: OnRecorded, on_closed: OnClosed | None,
        max_backoff_s: float, max_queued: int,
    ) -> None:  # fmt: skip
        self._partition = partition
        self._record = record
        self._on_recorded = on_recorded
        self._on_closed = on_closed
        self._max_backoff_s = max_backoff_s
        self._backlog = Backlog(max_queued)
        self._failure: BaseException | None = None
        self._next_offset: int | None = None
        self._writer = threading.Thread(target=self._write_in_order, name="event-store-writer", daemon=True)
        self._writer.start()

    def write_batch(self, values: list[IngestBatch]) -> None:
        self._put(merge_batches(values))

    def snapshot(self) -> int | None:
        return self._next_offset

    def close(self) -> None:
        self._put(None)
        self._writer.join()
        self._raise_if_failed()

    def _put(self, item: IngestBatch | None) -> None:
        # Blocks while the writer is behind (backpressure), but never on a dead writer.
        while True:
            self._raise_if_failed()
            if self._backlog.put(item, timeout=0.5):
                return

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise RuntimeError("writing to the event store failed") from self._failure

    def _write_in_order(self) -> None:
        while True:
            pending = self._backlog.take_all()
            batches = [b for b in pending if b is not None]
            try:
                if batches:
                    self._store(merge_batches(batches))
            except BaseException as error:  # surfaced on the worker thread by _raise_if_failed
                # Logged here, with its traceback: Bytewax reports the re-raised error only as a panic.
                log.exception("writing to the event store failed; the flow stops")
                self._failure = error
                return
            if pending[-1] is None:
                self._closed()
                return

    def _closed(self) -> None:
        # Everything queued is committed: what `on_closed` saves matches the committed offsets.
        if self._on_closed is None:
            return
        try:
            self._on_closed(self._partition)
        except Exception as error:  # only a warm start is lost; the next start rebuilds it
            log.warning("saving at close failed", extra={"error": str(error), "partition": self._partition})

    def _store(self, batch: IngestBatch) -> None:
        delay = 0.1
        while True:
            try:
                outcome = self._record(batch)
                break
            except (StorageUnavailable, BrokerUnavailable) as error:
                log.warning(
                    "event store or broker unavailable, retrying",
                    extra={"error": str(error), "retry_in_s": delay, "partition": batch.position.partition},
                )
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
        self._next_offset = batch.position.next_offset
        self._on_recorded(batch, outcome)


class StoreSink(FixedPartitionedSink[IngestBatch, int | None]):
    def __init__(
        self,
        partitions: list[int],
        record: RecordBatch,
        *,
        on_recorded: OnRecorded = lambda batch, outcome: None,
        on_closed: OnClosed | None = None,
        max_backoff_s: float = 5.0,
        max_queued: int = 40_000,
    ) -> None:
        """`max_queued`: records a partition's writer may have waiting before the worker stops reading."""
        self._names = [str(p) for p in sorted(partitions)]
        self._index = {name: i for i, name in enumerate(sorted(self._names))}
        self._record = record
        self._on_recorded = on_recorded
        self._on_closed = on_closed
        self._max_backoff_s = max_backoff_s
        self._max_queued = max_queued

    def list_parts(self) -> list[str]:
        return self._names

    def part_fn(self, item_key: str) -> int:
        # Bytewax indexes this into the sorted part names; map each key onto its own name.
        return self._index[item_key]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _StorePartition:
        return _StorePartition(
            int(for_part), self._record, self._on_recorded, self._on_closed, self._max_backoff_s, self._max_queued
        )
