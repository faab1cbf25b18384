"""Values that cross the ports: raw log records in, decoded batches out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from uuid import UUID

from domain.event_time import DEFAULT_ALLOWED_LATENESS, DEFAULT_MAX_FUTURE, EventTiming
from domain.events import Event
from domain.failures import FailedEvent
from domain.sessions import DEFAULT_SESSION_GAP


# Values built once per event (here and in `domain`: EventTiming, Placement, Enrichment, and
# ProcessedEvent) are NamedTuples: as immutable as a frozen dataclass, and built in 0.4 µs
# where a frozen dataclass's __init__ takes 1.3 µs, several times for every event.
class RawMessage(NamedTuple):
    """One record as read from the event log, before any validation."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class ReceivedEvent(NamedTuple):
    """A valid event, where in the log it was read, and its event-time verdict."""

    event: Event
    topic: str
    partition: int
    offset: int
    received_at: datetime
    timing: EventTiming
    raw: bytes | None = None  # the payload as received (valid JSON), when at hand

    @property
    def event_time(self) -> datetime:
        return self.timing.event_time


@dataclass(frozen=True, slots=True)
class LogPosition:
    """The next offset to read in one partition of one topic, for one consumer group."""

    consumer: str
    topic: str
    partition: int
    next_offset: int
    received_until: datetime | None = None  # latest receive time in the batch: drives closing windows


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """One micro-batch of one partition: valid events, dead letters, and where it ends."""

    position: LogPosition
    events: list[ReceivedEvent] = field(default_factory=list)
    failures: list[FailedEvent] = field(default_factory=list)
    started: float | None = None  # `time.perf_counter()` when its records were read: processing latency


@dataclass(frozen=True, slots=True)
class TimingRules:
    """How event time is judged (see `domain.event_time`)."""

    allowed_lateness: timedelta = DEFAULT_ALLOWED_LATENESS
    max_future: timedelta = DEFAULT_MAX_FUTURE
    session_gap: timedelta = DEFAULT_SESSION_GAP


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a batch changed: events newly stored (of which late), retries ignored, dead letters,
    and what scoring found (anomalies, with which batch model, in how long), plus what the
    metrics break these down by."""

    stored: int
    duplicates: int
    failed: int
    late: int = 0
    anomalies: int = 0
    model_version: str | None = None
    scoring_seconds: float = 0.0
    # Detail for the metrics, left out of equality (the counts above are what a batch did).
    stored_by_type: Mapping[str, int] = field(default_factory=dict, compare=False)
    failed_by_type: Mapping[str, int] = field(default_factory=dict, compare=False)
    event_times: Sequence[datetime] = field(default=(), compare=False)  # of newly stored events
    received_times: Sequence[datetime] = field(default=(), compare=False)  # their log (produce) times
    write_seconds: float = field(default=0.0, compare=False)  # the batch's transaction(s), scoring included
    states_loaded: Mapping[str, int] = field(default_factory=dict, compare=False)  # users' states read, by how


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A flagged event: stored in `anomalies` and published on `user-anomalies`."""

    received: ReceivedEvent
    score: float
    reasons: tuple[str, ...]
    detected_at: datetime
    model_version: str | None
    features: dict[str, float]

    @property
    def event_id(self) -> UUID:
        return self.received.event.event_id

    @property
    def user_id(self) -> str:
        return self.received.event.user_id


def first_occurrences(events: Sequence[ReceivedEvent]) -> dict[UUID, ReceivedEvent]:
    """Each event id's first occurrence, in log order: later copies of an id are retries."""
    first: dict[UUID, ReceivedEvent] = {}
    for received in events:
        first.setdefault(received.event.event_id, received)
    return first
