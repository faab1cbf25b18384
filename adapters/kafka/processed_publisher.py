"""`KafkaProcessedEventPublisher`: processed events as JSON on `user-analytics`.

Wire format: `{"event": <the event as received>, "processing": {event_time, late, ...}}`,
keyed by user id. The event part is the validated payload itself (or pydantic's JSON
of it when the raw bytes are not at hand); the rest is orjson. That costs ~2 µs an
event where a pydantic model of the whole took 13 µs: this runs for every event.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from adapters.kafka.acknowledged import publish_unacknowledged
from application.ports.event_log import Acknowledged, Acknowledgement, EventPublisher
from application.processed import ProcessedEvent


def processed_json(processed: ProcessedEvent) -> bytes:
    received = processed.received
    event = received.raw if received.raw is not None else received.event.model_dump_json(exclude_none=True).encode()
    return b"".join((b'{"event":', event, b',"processing":', orjson.dumps(processed.processing()), b"}"))


class KafkaProcessedEventPublisher:
    def __init__(self, publisher: EventPublisher, topic: str, flush_timeout: float = 30.0) -> None:
        self._publisher = publisher
        self._topic = topic
        self._flush_timeout = flush_timeout

    def publish_processed(self, events: Sequence[ProcessedEvent]) -> Acknowledgement:
        if not events:
            return Acknowledged()
        return publish_unacknowledged(
            self._publisher,
            self._topic,
            [processed.received for processed in events],
            [processed_json(processed) for processed in events],
            flush_timeout=self._flush_timeout,
            what="processed events",
        )
