"""Event-time window folds: what a batch of events adds to each window.

Windows are aligned to the Unix epoch (UTC). Each fold returns deltas that the store
adds to what it holds, so a window's value is the same whether its events came in one
batch or many, in order or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from domain.events import EventType, UserEvent

MINUTE = timedelta(minutes=1)
RATE_BUCKET = timedelta(seconds=10)  # rolling rates are sums of these buckets
ROLLING_RATE_SPAN = timedelta(minutes=5)
DIMENSIONS = ("all", "event_type", "country", "device")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def window_start(moment: datetime, size: timedelta) -> datetime:
    """The start (UTC) of the `size`-long window, aligned to the epoch, that holds `moment`."""
    # In UTC first: arithmetic on a named zone's wall clock is off by an hour around DST folds.
    utc = moment.astimezone(UTC)
    return utc - ((utc - _EPOCH) % size)


@dataclass
class Totals:
    """Counters kept per window key and per day."""

    events: int = 0
    purchases: int = 0
    revenue: Decimal = field(default_factory=Decimal)

    def add(self, event: UserEvent) -> None:
        self.events += 1
        if event.event_type == EventType.PURCHASE:
            self.purchases += 1
            self.revenue += event.value or 0


WindowKey = tuple[datetime, str, str]  # (minute start, dimension, key)
DayKey = tuple[date, str, str]  # (UTC day, event_type, country)


def minute_windows(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[WindowKey, Totals]:
    """Per minute: totals over all events and by event type, country and device."""
    out: dict[WindowKey, Totals] = {}
    for event, event_time in timed:
        minute = window_start(event_time, MINUTE)
        for dimension, key in (
            ("all", "all"),
            ("event_type", event.event_type.value),
            ("country", event.country),
            ("device", event.device.value),
        ):
            out.setdefault((minute, dimension, key), Totals()).add(event)
    return out


def minute_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[datetime, str]]:
    """(minute, user) pairs: the store counts each pair once, for exact active users."""
    return {(window_start(t, MINUTE), e.user_id) for e, t in timed}


def rate_buckets(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[datetime, int]:
    """Events per 10-second bucket; a rolling rate is a sum of buckets over a span."""
    out: dict[datetime, int] = {}
    for _, event_time in timed:
        bucket = window_start(event_time, RATE_BUCKET)
        out[bucket] = out.get(bucket, 0) + 1
    return out


def daily_totals(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[DayKey, Totals]:
    """Per (UTC day of the event time, event type, country)."""
    out: dict[DayKey, Totals] = {}
    for event, event_time in timed:
        key = (event_time.astimezone(UTC).date(), event.event_type.value, event.country)
        out.setdefault(key, Totals()).add(event)
    return out


def daily_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[date, str, str, str]]:
    """(day, event type, country, user): counted once each, for exact unique users."""
    return {(t.astimezone(UTC).date(), e.event_type.value, e.country, e.user_id) for e, t in timed}
