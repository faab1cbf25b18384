"""The collector: events posted over HTTP go to the log, invalid ones to the dead letters.

Same validation as the dataflow (`domain.validation`), so an event the collector
accepts is never dead-lettered downstream for its content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from application.decoding import timing_on_arrival
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
    """One event or a JSON list of events, each as its own JSON bytes, exactly as sent.

    Raises `InvalidEvent` (deserialize) for a body that is not UTF-8 JSON, `TooManyEvents`
    for a list over the limit. Each event keeps the client's own bytes (numbers, escapes,
    repeated keys), so it is validated and published exactly as the log path would see it.
    """
    try:
        # UTF-8 only, no byte order mark (RFC 8259): `json.loads(bytes)` would also guess
        # UTF-16 and let encoded surrogates through, which the event parser refuses.
        text = body.decode("utf-8")
        doc = json.loads(text)
    except RecursionError:
        raise InvalidEvent(ErrorType.DESERIALIZE, "body is not JSON: nested too deeply") from None
    except ValueError as error:  # UnicodeDecodeError included
        # What follows a ";" is advice to Python programmers (sys.set_int_max_str_digits), not to clients.
        raise InvalidEvent(ErrorType.DESERIALIZE, f"body is not JSON: {str(error).split(';')[0]}") from None
    if not isinstance(doc, list):
        return [body]
    if len(doc) > MAX_BATCH:
        raise TooManyEvents(len(doc))
    return [text[start:end].encode() for start, end in _element_spans(text)]


_SPACE = re.compile(r"[ \t\n\r]*")
_ELEMENT = json.JSONDecoder()


def _element_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where each element of a JSON array (already known valid) starts and ends in `text`."""
    at = _SPACE.match(text, _SPACE.match(text).end() + 1).end()  # past "["
    while text[at] != "]":
        _, end = _ELEMENT.raw_decode(text, at)
        yield at, end
        at = _SPACE.match(text, end).end()
        if text[at] == ",":
            at = _SPACE.match(text, at + 1).end()


def collect(
    items: Sequence[bytes],
    *,
    publisher: EventPublisher,
    topic: str,
    start_unit_of_work: UnitOfWorkFactory,
    processor_version: str,
    now: datetime,
    headers: Sequence[tuple[str, bytes]] = (),
    request_key: str | None = None,
) -> Collected:
    """Publish the valid events (acknowledged before returning), dead-letter the others.

    With the client's `request_key` (its Idempotency-Key), a retried request dead-letters its
    invalid events once; valid ones are stored once anyway, by their event id."""
    result = Collected()
    failures: list[FailedEvent] = []
    failed_before = publisher.report().failed
    for index, raw in enumerate(items):
        try:
            event = parse_event(raw)
            # The dataflow dead-letters an event whose time it cannot compute: refuse it here instead.
            timing_on_arrival(event, now)
        except InvalidEvent as invalid:
            result.rejected.append(Rejection(index, f"{invalid.error_type}: {invalid.reason}"))
            failures.append(
                FailedEvent.of_payload(
                    raw,
                    invalid.error_type,
                    invalid.reason,
                    event_id=invalid.event_id,
                    request_key=request_key,
                    request_index=index if request_key is not None else None,
                    processor_version=processor_version,
                    failed_at=now,
                )
            )
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
