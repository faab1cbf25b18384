"""The collector: events posted over HTTP go to the log, invalid ones to the dead letters.

Same validation as the dataflow (`domain.validation`), so an event the collector
accepts is never dead-lettered downstream for its content.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from application.ingest import UnitOfWorkFactory
from application.ports.event_log import EventPublisher
from domain.errors import BrokerUnavailable, InvalidEvent
from domain.failures import ErrorType, FailedEvent
from domain.validation import parse_event

MAX_BATCH = 1000


@dataclass(frozen=True)
class Rejection:
    index: int
    error: str


@dataclass
class Collected:
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)


class TooManyEvents(InvalidEvent):
    def __init__(self, count: int) -> None:
        super().__init__(ErrorType.SCHEMA, f"{count} events in one request; at most {MAX_BATCH}")


def split_body(body: bytes) -> list[bytes]:
    """One event or a JSON list of events, each as its own JSON bytes.

    Raises `InvalidEvent` (deserialize) for a body that is not JSON, `TooManyEvents`
    for a list over the limit.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEvent(ErrorType.DESERIALIZE, f"body is not JSON: {error}") from None
    items = doc if isinstance(doc, list) else [doc]
    if len(items) > MAX_BATCH:
        raise TooManyEvents(len(items))
    return [json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() for item in items]


def collect(
    items: Sequence[bytes],
    *,
    publisher: EventPublisher,
    topic: str,
    start_unit_of_work: UnitOfWorkFactory,
    processor_version: str,
    now: datetime,
    headers: Sequence[tuple[str, bytes]] = (),
) -> Collected:
    """Publish the valid events (acknowledged before returning), dead-letter the others."""
    result = Collected()
    failures: list[FailedEvent] = []
    failed_before = publisher.report().failed
    for index, raw in enumerate(items):
        try:
            event = parse_event(raw)
        except InvalidEvent as invalid:
            result.rejected.append(Rejection(index, f"{invalid.error_type}: {invalid.reason}"))
            failures.append(_dead_letter(raw, invalid, processor_version, now))
            continue
        publisher.publish(topic, event.user_id.encode(), raw, headers)
        result.accepted += 1
    report = publisher.flush()
    if report.pending or report.failed > failed_before:
        raise BrokerUnavailable(f"the log did not acknowledge every event ({report.pending} pending)")
    if failures:
        with start_unit_of_work() as uow:
            uow.dead_letters.add(failures)
            uow.commit()
    return result


def _dead_letter(raw: bytes, invalid: InvalidEvent, processor_version: str, now: datetime) -> FailedEvent:
    return FailedEvent(
        error_type=invalid.error_type,
        error_reason=invalid.reason,
        raw_data=raw.decode("utf-8", errors="replace")[:65536],
        raw_truncated=len(raw) > 65536,
        event_id=invalid.event_id,
        processor_version=processor_version,
        failed_at=now,
    )
