"""Small builders for events and batches, so tests say only what matters to them."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from application.decoding import decode_batch
from application.messages import IngestBatch, LogPosition, RawMessage, ReceivedEvent
from domain.event_time import event_timing
from domain.events import UserEvent
from domain.failures import ErrorType, FailedEvent
from domain.validation import USER_EVENT

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)  # when `decode` decodes: an hour after the first event
VERSION = "test-1.2.3"  # the processor version dead letters are stamped with
_ids = itertools.count(1)

_DATA = {
    "page_view": {"page": "/home"},
    "click": {"page": "/home", "element": "buy"},
    "search": {"query": "shoes", "results_count": 3},
    "video_watch": {"video_id": "v1", "watch_seconds": 12.5},
    "purchase": {"product_id": "p1", "quantity": 1, "currency": "USD"},
    "signup": {},
    "login": {},
    "logout": {},
}


def event_doc(event_type: str = "page_view", **overrides: Any) -> dict[str, Any]:
    """A valid wire document; override any field (use `None` with `drop=` to remove)."""
    n = next(_ids)
    doc: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=n, version=4)),
        "user_id": "user_1",
        "session_id": str(uuid.UUID(int=10_000 + n, version=4)),
        "event_type": event_type,
        "timestamp": (T0 + timedelta(seconds=n)).isoformat(),
        "device": "mobile",
        "country": "US",
        "data": dict(_DATA[event_type]),
    }
    if event_type == "purchase":
        doc["value"] = "19.99"
    doc.update(overrides)
    return doc


def payload(event_type: str = "page_view", **overrides: Any) -> bytes:
    """`event_doc` as the bytes a producer sends."""
    return json.dumps(event_doc(event_type, **overrides)).encode()


def make_event(event_type: str = "page_view", **overrides: Any) -> UserEvent:
    return USER_EVENT.validate_python(event_doc(event_type, **overrides), strict=False)


def received(
    event: UserEvent,
    *,
    partition: int = 0,
    offset: int = 0,
    topic: str = "user-events",
    received_at: datetime | None = None,
) -> ReceivedEvent:
    """Received at `received_at` (default: the event's own timestamp, so on time)."""
    at = received_at or event.timestamp
    return ReceivedEvent(event, topic, partition, offset, at, event_timing(event.timestamp, event.sent_at, at))


def raw_message(value: bytes | None, *, partition: int = 0, offset: int = 0, topic: str = "user-events") -> RawMessage:
    return RawMessage(topic=topic, partition=partition, offset=offset, key=b"user_1", value=value, timestamp_ms=None)


def decode(messages: list[RawMessage], *, consumer: str = "ingest", now: datetime = NOW) -> IngestBatch:
    """The records decoded as the dataflow does, at `now`, by processor `VERSION`."""
    return decode_batch(messages, consumer=consumer, processor_version=VERSION, now=now)


def failed(*, offset: int | None = 0, partition: int | None = 0, reason: str = "bad") -> FailedEvent:
    return FailedEvent(
        error_type=ErrorType.SCHEMA,
        error_reason=reason,
        raw_data='{"oops": true}',
        source_topic="user-events" if offset is not None else None,
        source_partition=partition if offset is not None else None,
        source_offset=offset,
        processor_version="test",
        failed_at=T0,
    )


def batch(
    events: list[ReceivedEvent], failures: list[FailedEvent] = (), *, next_offset: int | None = None
) -> IngestBatch:
    offsets = [r.offset for r in events] + [f.source_offset for f in failures if f.source_offset is not None]
    end = next_offset if next_offset is not None else (max(offsets) + 1 if offsets else 0)
    return IngestBatch(LogPosition("test-consumer", "user-events", 0, end), list(events), list(failures))


def money(text: str) -> Decimal:
    return Decimal(text)
