"""The event log (Kafka): where raw events are appended, keyed by user."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from application.messages import Anomaly, RawMessage, ReceivedEvent
from application.processed import ProcessedEvent


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Running totals of what the log acknowledged since the publisher started."""

    delivered: int
    failed: int
    pending: int


MAX_RECORD_BYTES = 2 * 1024 * 1024
"""The largest record the platform's log takes: an event may be 1 MiB (the contract's limit) and
its enriched copy on the processed topic a little more. Kafka's own default is 1 MB."""

OnRefused = Callable[[str], None]
"""Told why the log refused one record for good (too large, invalid): retrying cannot help."""

OnRefusedAt = Callable[[int, str], None]
"""`publish_many`'s handler: the refused record's index in the batch, and why."""

Refusals = list[tuple[ReceivedEvent, str]]
"""Events whose copy an output topic refused for good, with the reason."""


class EventPublisher(Protocol):
    """Appends records to a topic. Keys route a user's events to one partition."""

    def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
        on_refused: OnRefused | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one record; raises `BrokerUnavailable` when it cannot even be queued.

        A record the log refuses for good (too large for it) goes to `on_refused`, if given,
        and counts in neither `delivered` nor `failed`; without it the refusal raises or
        counts as failed like any other. `timestamp_ms` is the record's log timestamp, when it
        reached the platform (default: now): a replayed backlog keeps the times it arrived at."""
        ...

    def publish_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes]], on_refused: OnRefusedAt) -> None:
        """Queue `(key, value)` records in order, without headers: what `publish` does to each,
        at a fraction of the cost per record (a batch's copies on an output topic).

        A record refused for good goes to `on_refused` with its index in `records`, as soon as
        the refusal is known: when queueing, or later, by `flush`."""
        ...

    def flush(self, timeout: float = 30.0) -> DeliveryReport:
        """Wait until the records queued before this call are acknowledged (or timeout); report
        totals, `pending` being those of them still unacknowledged (records queued meanwhile by
        other threads sharing the publisher do not count: their own flush answers for them)."""
        ...

    def report(self) -> DeliveryReport:
        """Totals so far, without waiting."""
        ...


class EventLogReader(Protocol):
    """Reads back a topic partition by offset (used by tests, replay tools and the bench)."""

    def partitions(self, topic: str) -> list[int]:
        """The topic's partition numbers."""
        ...

    def end_offsets(self, topic: str) -> dict[int, int]:
        """For each partition, the offset the next appended record will get."""
        ...

    def read(self, topic: str, partition: int, start: int, max_records: int) -> list[RawMessage]:
        """Up to `max_records` records from `start` on; fewer (maybe none) at the end."""
        ...


class Acknowledgement(Protocol):
    """Records queued for an output topic, not yet known to be acknowledged."""

    def wait(self) -> Refusals:
        """Wait until the topic acknowledged them all; raise `BrokerUnavailable` if any is missing.
        Returns the events the topic refused for good (so they are dead-lettered, not retried).
        Waiting on one also waits on records queued before it: a batch waits once, for all."""
        ...


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An `Acknowledgement` already settled: nothing was published, or the publisher is synchronous."""

    refusals: Refusals = field(default_factory=list)

    def wait(self) -> Refusals:
        return self.refusals


class ProcessedEventPublisher(Protocol):
    """Publishes processed events (see `application.processed`) downstream."""

    def publish_processed(self, events: Sequence[ProcessedEvent]) -> Acknowledgement:
        """Queue their records; `wait()` on the result before committing what they report."""
        ...


class AnomalyPublisher(Protocol):
    """Publishes anomaly records (flagged events with their reasons) downstream."""

    def publish_anomalies(self, anomalies: Sequence[Anomaly]) -> Acknowledgement:
        """Queue their records; `wait()` on the result before committing what they report."""
        ...
