"""Raw log records to validated events and dead letters, one partition batch at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from application.messages import IngestBatch, LogPosition, RawMessage, ReceivedEvent, TimingRules
from domain.errors import InvalidEvent
from domain.event_time import EventTiming, event_timing
from domain.events import EARLIEST_TIME, LATEST_TIME, Event
from domain.failures import ErrorType, FailedEvent
from domain.validation import parse_event


def decode_batch(
    messages: Sequence[RawMessage],
    *,
    consumer: str,
    processor_version: str,
    now: datetime,
    rules: TimingRules = TimingRules(),
    parse: Callable[[bytes], Event] = parse_event,
) -> IngestBatch:
    """Validate a non-empty run of consecutive records of one partition.

    Every record ends either as a `ReceivedEvent` or as a `FailedEvent`; none is
    dropped. The batch's position is just past its last record. `parse` is
    `domain.validation.parse_event` or a decoder that decides exactly as it does.
    """
    first = messages[0]
    events: list[ReceivedEvent] = []
    failures: list[FailedEvent] = []
    received_until: datetime | None = None
    arrivals: dict[int | None, datetime] = {}  # records of a batch share their millisecond stamps by the dozen
    for message in messages:
        raw = message.value
        try:
            if raw is None:
                raise InvalidEvent(ErrorType.DESERIALIZE, "empty record (no value)")
            event = parse(raw)
            received_at = arrivals.get(message.timestamp_ms)
            if received_at is None:
                received_at = arrivals[message.timestamp_ms] = _received_at(message.timestamp_ms, now)
            timing = timing_on_arrival(event, received_at, rules)
        except InvalidEvent as invalid:
            failures.append(dead_letter(message, invalid, processor_version=processor_version, now=now))
            continue
        received_until = received_at if received_until is None else max(received_until, received_at)
        events.append(ReceivedEvent(event, message.topic, message.partition, message.offset, received_at, timing, raw))
    last = messages[-1]
    position = LogPosition(consumer, first.topic, first.partition, last.offset + 1, received_until)
    return IngestBatch(position=position, events=events, failures=failures)


def _received_at(timestamp_ms: int | None, now: datetime) -> datetime:
    """The log's timestamp is when the platform received the event; without one, now.

    Producers set that timestamp; one no calendar can hold (or beyond the events' own
    range) says nothing about arrival either, so it counts as missing."""
    if timestamp_ms is None or timestamp_ms <= 0:
        return now
    try:
        stamped = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, ValueError, OSError):
        return now
    return stamped if EARLIEST_TIME <= stamped <= LATEST_TIME else now


def timing_on_arrival(event: Event, received_at: datetime, rules: TimingRules = TimingRules()) -> EventTiming:
    """The event's time and flags (`domain.event_time`), or `InvalidEvent` (schema) when its
    clock-skew correction (`timestamp + received_at - sent_at`) leaves the calendar."""
    try:
        timing = event_timing(
            event.timestamp, event.sent_at, received_at,
            allowed_lateness=rules.allowed_lateness, max_future=rules.max_future,
        )  # fmt: skip
    except OverflowError:
        timing = None
    if timing is None or not EARLIEST_TIME <= timing.event_time <= LATEST_TIME:
        reason = (
            f"sent_at: correcting the timestamp by it gives an event time outside "
            f"{EARLIEST_TIME.date()}..{LATEST_TIME.date()}; sent_at and timestamp disagree"
        )
        raise InvalidEvent(ErrorType.SCHEMA, reason, str(event.event_id))
    return timing


def dead_letter(message: RawMessage, invalid: InvalidEvent, *, processor_version: str, now: datetime) -> FailedEvent:
    """A `FailedEvent` that keeps the payload (truncated when huge) and its log position."""
    return FailedEvent.of_payload(
        message.value or b"",
        invalid.error_type,
        invalid.reason,
        event_id=invalid.event_id,
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        processor_version=processor_version,
        failed_at=now,
    )
