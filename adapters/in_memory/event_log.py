"""An in-process event log: the test double for both event-log ports."""

from __future__ import annotations

import itertools
import threading
import time
import zlib
from collections.abc import Sequence
from functools import partial

from application.messages import RawMessage
from application.ports.event_log import MAX_RECORD_BYTES, DeliveryReport, OnRefused, OnRefusedAt
from domain.errors import BrokerUnavailable, NotFound


class InMemoryEventLog:
    """Implements `EventPublisher` and `EventLogReader` over lists, one per partition.

    Keyed records go to partition `crc32(key) % partitions`: the same rule as librdkafka's
    default `consistent_random` partitioner, so a key lands in the same partition number
    here as with the real producer. Keyless records are spread round-robin (librdkafka
    picks at random). Publishing to an unknown topic creates it with `default_partitions`.
    Every publish is "delivered" at once; `flush` has nothing to wait for. A record above
    `max_record_bytes` is refused, as Kafka refuses it.
    """

    def __init__(self, default_partitions: int = 3, *, max_record_bytes: int = MAX_RECORD_BYTES) -> None:
        self._default_partitions = default_partitions
        self._max_record_bytes = max_record_bytes
        self._topics: dict[str, list[list[RawMessage]]] = {}
        self._lock = threading.Lock()
        self._round_robin = itertools.count()
        self._delivered = 0

    def create_topic(self, name: str, partitions: int | None = None) -> None:
        """Create `name` if missing; like Kafka, an existing topic keeps its partitions."""
        with self._lock:
            self._topics.setdefault(name, [[] for _ in range(partitions or self._default_partitions)])

    def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
        on_refused: OnRefused | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        if len(value) + len(key or b"") > self._max_record_bytes:
            reason = f"{topic}: record of {len(value)} bytes is above the {self._max_record_bytes}-byte limit"
            if on_refused is None:
                raise BrokerUnavailable(f"cannot queue a record for {topic!r}: {reason}")
            on_refused(reason)
            return
        self.create_topic(topic)
        with self._lock:
            partitions = self._topics[topic]
            index = (zlib.crc32(key) if key is not None else next(self._round_robin)) % len(partitions)
            log = partitions[index]
            log.append(
                RawMessage(
                    topic=topic,
                    partition=index,
                    offset=len(log),
                    key=key,
                    value=value,
                    timestamp_ms=timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
                    headers=tuple((name, data) for name, data in headers),
                )
            )
            self._delivered += 1

    def publish_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes]], on_refused: OnRefusedAt) -> None:
        for index, (key, value) in enumerate(records):
            self.publish(topic, key, value, on_refused=partial(on_refused, index))

    def flush(self, timeout: float = 30.0) -> DeliveryReport:
        return self.report()

    def report(self) -> DeliveryReport:
        with self._lock:
            return DeliveryReport(delivered=self._delivered, failed=0, pending=0)

    def _partitions_of(self, topic: str) -> list[list[RawMessage]]:
        try:
            return self._topics[topic]
        except KeyError:
            raise NotFound(f"topic {topic!r} does not exist") from None

    def partitions(self, topic: str) -> list[int]:
        with self._lock:
            return list(range(len(self._partitions_of(topic))))

    def end_offsets(self, topic: str) -> dict[int, int]:
        with self._lock:
            return {index: len(log) for index, log in enumerate(self._partitions_of(topic))}

    def read(self, topic: str, partition: int, start: int, max_records: int) -> list[RawMessage]:
        with self._lock:
            log = self._partitions_of(topic)[partition]
            return log[max(start, 0) : max(start, 0) + max(max_records, 0)]
