"""Values that cross the ports: raw log records in, decoded batches out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.events import UserEvent
from domain.failures import FailedEvent


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One record as read from the event log, before any validation."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """A valid event and where in the log it was read."""

    event: UserEvent
    topic: str
    partition: int
    offset: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class LogPosition:
    """The next offset to read in one partition of one topic, for one consumer group."""

    consumer: str
    topic: str
    partition: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """One micro-batch of one partition: valid events, dead letters, and where it ends."""

    position: LogPosition
    events: list[ReceivedEvent] = field(default_factory=list)
    failures: list[FailedEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a batch changed: events newly stored, retries ignored, dead letters written."""

    stored: int
    duplicates: int
    failed: int
