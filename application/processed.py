"""Processed events: what the platform publishes on `user-analytics` for each stored event."""

from __future__ import annotations

from typing import Any, NamedTuple

from application.messages import ReceivedEvent
from domain.enrichment import Enrichment
from domain.windows import minute_of


class ProcessedEvent(NamedTuple):
    """A newly stored event with its event-time verdicts, enrichment and window."""

    received: ReceivedEvent
    enrichment: Enrichment
    anomaly_score: float | None = None

    def processing(self) -> dict[str, Any]:
        """The fields the platform adds, published beside the event as received."""
        timing, enrichment = self.received.timing, self.enrichment
        return {
            "event_time": timing.event_time,
            "received_at": self.received.received_at,
            "late": timing.late,
            "future_clamped": timing.future_clamped,
            "minute_window": minute_of(timing.event_time),
            "local_day": enrichment.local_day,
            "local_hour": enrichment.local_hour,
            "is_new_user": enrichment.is_new_user,
            "is_first_purchase": enrichment.is_first_purchase,
            "session_start": enrichment.session_start,
            "session_event_number": enrichment.session_event_number,
            "source_partition": self.received.partition,
            "source_offset": self.received.offset,
            "anomaly_score": self.anomaly_score,
        }
