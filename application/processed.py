"""Processed events: what the platform publishes on `user-analytics` for each stored event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from application.messages import ReceivedEvent
from application.ports.event_log import EventPublisher
from domain.enrichment import Enrichment
from domain.errors import BrokerUnavailable
from domain.events import UserEvent
from domain.windows import MINUTE, window_start


class ProcessedEvent(BaseModel):
    """The event as received, plus its event time, verdicts, enrichment and window."""

    model_config = ConfigDict(frozen=True)

    event: UserEvent
    event_time: datetime
    received_at: datetime
    late: bool
    future_clamped: bool
    minute_window: datetime
    local_day: date
    local_hour: int
    is_new_user: bool
    is_first_purchase: bool
    session_start: datetime | None
    session_event_number: int | None
    source_partition: int
    source_offset: int


def processed_event(received: ReceivedEvent, enrichment: Enrichment) -> ProcessedEvent:
    timing = received.timing
    return ProcessedEvent(
        event=received.event,
        event_time=timing.event_time,
        received_at=received.received_at,
        late=timing.late,
        future_clamped=timing.future_clamped,
        minute_window=window_start(timing.event_time, MINUTE),
        local_day=enrichment.local_day,
        local_hour=enrichment.local_hour,
        is_new_user=enrichment.is_new_user,
        is_first_purchase=enrichment.is_first_purchase,
        session_start=enrichment.session_start,
        session_event_number=enrichment.session_event_number,
        source_partition=received.partition,
        source_offset=received.offset,
    )


class ProcessedEventTopic:
    """Publishes processed events keyed by user, and returns only once they are acknowledged."""

    def __init__(self, publisher: EventPublisher, topic: str, flush_timeout: float = 30.0) -> None:
        self._publisher = publisher
        self._topic = topic
        self._flush_timeout = flush_timeout

    def publish(self, events: Sequence[ProcessedEvent]) -> None:
        if not events:
            return
        failed_before = self._publisher.report().failed
        for processed in events:
            self._publisher.publish(
                self._topic, processed.event.user_id.encode(), processed.model_dump_json(exclude_none=True).encode()
            )
        report = self._publisher.flush(self._flush_timeout)
        if report.pending or report.failed > failed_before:
            # Raising rolls the batch back; it is retried, so nothing is silently missing.
            raise BrokerUnavailable(f"processed events not acknowledged by {self._topic!r} ({report})")
