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
from functools import lru_cache

from domain.events import EventType, UserEvent

MINUTE = timedelta(minutes=1)
RATE_BUCKET = timedelta(seconds=10)  # rolling rates are sums of these buckets
ROLLING_RATE_SPAN = timedelta(minutes=5)
DIMENSIONS = ("all", "event_type", "country", "device")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS = {n: timedelta(seconds=n) for n in (10, 60, 86_400)}


def window_start(moment: datetime, size: timedelta) -> datetime:
    """The start (UTC) of the `size`-long window, aligned to the epoch, that holds `moment`."""
    # In UTC first: arithmetic on a named zone's wall clock is off by an hour around DST folds.
    utc = moment.astimezone(UTC)
    return utc - ((utc - _EPOCH) % size)


@lru_cache(maxsize=65536)
def _start_of(index: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(index * seconds, UTC)


def minute_of(moment: datetime) -> datetime:
    """The start of the minute window holding `moment` (cached; for per-event use)."""
    return _bucket(moment, 60)


def _bucket(moment: datetime, seconds: int) -> datetime:
    """`window_start` for whole-second sizes, cached: the folds call it per event.

    Exact integer arithmetic on microseconds (a float timestamp can round 59.999999 up)."""
    return _start_of((moment - _EPOCH) // _SECONDS[seconds], seconds)


@lru_cache(maxsize=4096)
def _utc_day(day_index: int) -> date:
    return _start_of(day_index, 86_400).date()


def _day(moment: datetime) -> date:
    return _utc_day((moment - _EPOCH) // _SECONDS[86_400])


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


def _fold_totals(keyed: Iterable[tuple[object, UserEvent]]) -> dict:
    """Sum (key, event) pairs into Totals per key; plain lists on this per-event hot path."""
    acc: dict = {}
    for key, event in keyed:
        purchase = event.event_type is EventType.PURCHASE
        revenue = (event.value or 0) if purchase else 0
        row = acc.get(key)
        if row is None:
            acc[key] = [1, int(purchase), revenue]
        else:
            row[0] += 1
            row[1] += purchase
            row[2] += revenue
    return {key: Totals(n, p, Decimal(r)) for key, (n, p, r) in acc.items()}


def minute_windows(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[WindowKey, Totals]:
    """Per minute: totals over all events and by event type, country and device."""
    minute_s = int(MINUTE.total_seconds())

    def keyed():
        for event, event_time in timed:
            minute = _bucket(event_time, minute_s)
            yield (minute, "all", "all"), event
            yield (minute, "event_type", event.event_type), event  # StrEnum members are the strings
            yield (minute, "country", event.country), event
            yield (minute, "device", event.device), event

    return _fold_totals(keyed())


def minute_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[datetime, str]]:
    """(minute, user) pairs: the store counts each pair once, for exact active users."""
    minute_s = int(MINUTE.total_seconds())
    return {(_bucket(t, minute_s), e.user_id) for e, t in timed}


def rate_buckets(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[datetime, int]:
    """Events per 10-second bucket; a rolling rate is a sum of buckets over a span."""
    out: dict[datetime, int] = {}
    bucket_s = int(RATE_BUCKET.total_seconds())
    for _, event_time in timed:
        bucket = _bucket(event_time, bucket_s)
        out[bucket] = out.get(bucket, 0) + 1
    return out


def daily_totals(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[DayKey, Totals]:
    """Per (UTC day of the event time, event type, country)."""
    return _fold_totals(((_day(t), e.event_type, e.country), e) for e, t in timed)


def daily_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[date, str, str, str]]:
    """(day, event type, country, user): counted once each, for exact unique users."""
    return {(_day(t), e.event_type, e.country, e.user_id) for e, t in timed}
