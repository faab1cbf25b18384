"""`StoreSink`: the Bytewax output that records batches in the event store.

One sink partition per Kafka partition, so each partition's batches are written
by exactly one writer, in log order; the offset commits with the data. Transient
storage errors are retried with backoff (the platform heals itself after a
database restart); anything else stops the flow, and a restart resumes from the
last committed offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Optional

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from application.messages import BatchOutcome, IngestBatch
from domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

RecordBatch = Callable[[IngestBatch], BatchOutcome]
OnRecorded = Callable[[IngestBatch, BatchOutcome], None]


def merge_batches(batches: list[IngestBatch]) -> IngestBatch:
    """Consecutive batches of one partition as one (one transaction instead of many)."""
    if len(batches) == 1:
        return batches[0]
    events = [e for b in batches for e in b.events]
    failures = [f for b in batches for f in b.failures]
    return IngestBatch(position=batches[-1].position, events=events, failures=failures)


class _StorePartition(StatefulSinkPartition[IngestBatch, Optional[int]]):
    def __init__(self, record: RecordBatch, on_recorded: OnRecorded, max_backoff_s: float) -> None:
        self._record = record
        self._on_recorded = on_recorded
        self._max_backoff_s = max_backoff_s
        self._next_offset: int | None = None

    def write_batch(self, values: list[IngestBatch]) -> None:
        batch = merge_batches(values)
        delay = 0.1
        while True:
            try:
                outcome = self._record(batch)
                break
            except StorageUnavailable as error:
                log.warning(
                    "event store unavailable, retrying",
                    extra={"error": str(error), "retry_in_s": delay, "partition": batch.position.partition},
                )
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
        self._next_offset = batch.position.next_offset
        self._on_recorded(batch, outcome)

    def snapshot(self) -> Optional[int]:
        return self._next_offset


class StoreSink(FixedPartitionedSink[IngestBatch, Optional[int]]):
    def __init__(
        self,
        partitions: list[int],
        record: RecordBatch,
        *,
        on_recorded: OnRecorded = lambda batch, outcome: None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._names = [str(p) for p in sorted(partitions)]
        self._index = {name: i for i, name in enumerate(sorted(self._names))}
        self._record = record
        self._on_recorded = on_recorded
        self._max_backoff_s = max_backoff_s

    def list_parts(self) -> list[str]:
        return self._names

    def part_fn(self, item_key: str) -> int:
        # Bytewax indexes this into the sorted part names; map each key onto its own name.
        return self._index[item_key]

    def build_part(self, step_id: str, for_part: str, resume_state: Optional[int]) -> _StorePartition:
        return _StorePartition(self._record, self._on_recorded, self._max_backoff_s)
