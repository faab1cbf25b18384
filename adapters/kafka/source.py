"""Bytewax input: one Kafka partition per Bytewax partition, read in micro-batches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import Consumer, KafkaError, TopicPartition

from adapters.kafka.reader import to_raw_message
from adapters.kafka.topics import topic_partitions
from application.messages import RawMessage

logger = logging.getLogger(__name__)

DEFAULT_GROUP_ID = "analytics-bytewax"

# (partition, log-end offset, next offset this reader will read): consumer lag for the metrics.
LogEndCallback = Callable[[int, int, int], None]


class _PartitionReader(StatefulSourcePartition[list[RawMessage], int]):
    """Reads one partition from a given offset; its state is the next offset to read."""

    def __init__(
        self,
        config: dict,
        topic: str,
        partition: int,
        start: int,
        *,
        batch_size: int,
        stop_at_end: bool,
        poll_interval: timedelta,
        on_log_end: LogEndCallback | None,
    ) -> None:
        self._consumer = Consumer(
            {
                "group.id": DEFAULT_GROUP_ID,
                # If the stored offset is no longer in the log, re-read from the log start:
                # duplicates are absorbed downstream, skipping ahead ("latest") would lose events.
                "auto.offset.reset": "earliest",
                **config,
                # Offsets are committed with the results (in Postgres), never to Kafka.
                "enable.auto.commit": False,
                "enable.partition.eof": stop_at_end,
                # A fetch with nothing new is held this long by the broker (default 500 ms):
                # under light load that wait is most of an event's latency.
                "fetch.wait.max.ms": 10,
            }
        )
        # `assign`, not `subscribe`: Bytewax decides who reads which partition, so no group rebalancing.
        self._consumer.assign([TopicPartition(topic, partition, start)])
        self._topic = topic
        self._partition = partition
        self._next_offset = start
        self._batch_size = batch_size
        self._stop_at_end = stop_at_end
        self._poll_interval = poll_interval
        self._at_end = False
        self._idle = False
        self._on_log_end = on_log_end
        self._assigned = TopicPartition(topic, partition)

    def next_batch(self) -> list[list[RawMessage]]:
        if self._at_end:
            raise StopIteration
        batch: list[RawMessage] = []
        # timeout=0: only what librdkafka already fetched in the background; never block the worker.
        for message in self._consumer.consume(self._batch_size, timeout=0):
            error = message.error()
            if error is None:
                batch.append(to_raw_message(message))
                self._next_offset = message.offset() + 1
            elif error.code() == KafkaError._PARTITION_EOF:
                # Stop on the *next* call so that this batch is still emitted.
                self._at_end = self._stop_at_end
            elif error.fatal():
                raise RuntimeError(f"fatal error consuming {self._topic}[{self._partition}]: {error.str()}")
            else:
                # Transient (broker down, leader moved): librdkafka retries by itself.
                logger.warning("consuming %s[%d]: %s", self._topic, self._partition, error.str())
        self._idle = not batch
        if self._on_log_end is not None:
            self._report_log_end()
        return [batch] if batch else []

    def _report_log_end(self) -> None:
        # The high watermark of the last fetch response: no request to the broker.
        _, high = self._consumer.get_watermark_offsets(self._assigned, cached=True)
        if high >= 0:
            self._on_log_end(self._partition, high, self._next_offset)

    def next_awake(self) -> datetime | None:
        # After an empty poll, back off instead of letting Bytewax spin on this partition.
        return datetime.now(UTC) + self._poll_interval if self._idle else None

    def snapshot(self) -> int:
        return self._next_offset

    def close(self) -> None:
        self._consumer.close()


class KafkaPartitionedSource(FixedPartitionedSource[list[RawMessage], int]):
    """Emits, per Kafka partition, batches (`list[RawMessage]`, offset order) of up to `batch_size` records.

    A partition starts at its Bytewax resume state if any, else at `start_offsets()[partition]`
    (the offsets committed with the results), else at offset 0 (the log start).
    With `stop_at_end` each partition ends once it has read up to the end of the log
    (for tests and backfills); otherwise it tails the log forever.

    A start offset beyond the end of the log: Kafka reports it out of range and the
    reader restarts at the log start; Tansu answers with nothing at all, so the reader
    waits (and never sees end-of-partition) until the log grows past that offset.
    """

    def __init__(
        self,
        config: dict,
        topic: str,
        *,
        start_offsets: Callable[[], Mapping[int, int]],
        batch_size: int = 5000,
        stop_at_end: bool = False,
        poll_interval: timedelta = timedelta(milliseconds=10),
        on_log_end: LogEndCallback | None = None,
    ) -> None:
        self._config = dict(config)
        self._topic = topic
        self._start_offsets = start_offsets
        self._batch_size = batch_size
        self._stop_at_end = stop_at_end
        self._poll_interval = poll_interval
        self._on_log_end = on_log_end

    def list_parts(self) -> list[str]:
        return [str(p) for p in topic_partitions(self._config, self._topic)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _PartitionReader:
        partition = int(for_part)
        # Offset 0 rather than OFFSET_BEGINNING: the logical offset costs a lookup round of
        # about 0.5 s per partition, and a 0 below the log start falls back to "earliest".
        start = resume_state if resume_state is not None else self._start_offsets().get(partition, 0)
        return _PartitionReader(
            self._config,
            self._topic,
            partition,
            start,
            batch_size=self._batch_size,
            stop_at_end=self._stop_at_end,
            poll_interval=self._poll_interval,
            on_log_end=self._on_log_end,
        )
