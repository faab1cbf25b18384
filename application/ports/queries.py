"""The read side: what the API asks of the store. Keyset pagination, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from application.views import (
    AnomalyView,
    ConsumerProgressView,
    DailyStatsView,
    EventView,
    FailedEventView,
    Page,
    RateBucketView,
    RealtimeView,
    UserView,
)


@dataclass(frozen=True)
class EventFilter:
    user_id: str | None = None
    event_type: str | None = None
    country: str | None = None
    since: datetime | None = None  # on event time, inclusive
    until: datetime | None = None  # on event time, exclusive


class AnalyticsQueries(Protocol):
    def events(self, filters: EventFilter, limit: int, cursor: str | None) -> Page[EventView]:
        """Events matching all filters, newest event time first; raises InvalidCursor."""
        ...

    def event(self, event_id: UUID) -> EventView | None: ...

    def user(self, user_id: str) -> UserView | None: ...

    def daily_stats(
        self, start: date | None, end: date | None, event_type: str | None, country: str | None
    ) -> list[DailyStatsView]:
        """Rows with start <= day <= end, by day then event type then country."""
        ...

    def realtime(self, windows: int, allowed_lateness_s: float) -> RealtimeView:
        """The latest `windows` closed minute windows (see RealtimeView)."""
        ...

    def throughput(self, minutes: int) -> list[RateBucketView]:
        """The stored rate buckets overlapping the `minutes` minutes up to the watermark,
        oldest first (buckets without events are absent); empty without a watermark."""
        ...

    def consumer_progress(self) -> list[ConsumerProgressView]:
        """Every committed consumer position, by topic, partition, then consumer."""
        ...

    def anomalies(self, since: datetime | None, min_score: float, limit: int) -> list[AnomalyView]:
        """Most recent first."""
        ...

    def failed_events(self, error_type: str | None, limit: int, cursor: str | None) -> Page[FailedEventView]:
        """Most recent first; raises InvalidCursor."""
        ...

    def ping(self) -> None:
        """Raise StorageUnavailable unless the store answers."""
        ...
