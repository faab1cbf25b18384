"""Event-time window folds: what a batch of events adds to each window.

Windows are aligned to the Unix epoch (UTC). Each fold returns deltas that the store
adds to what it holds, so a window's value is the same whether its events came in one
batch or many, in order or not.
"""

from __future__ import annotations

from collections import Counter
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
_DAY = timedelta(days=1)
_PURCHASE = EventType.PURCHASE


def window_start(moment: datetime, size: timedelta) -> datetime:
    """The start (UTC) of the `size`-long window, aligned to the epoch, that holds `moment`."""
    # In UTC first: arithmetic on a named zone's wall clock is off by an hour around DST folds.
    utc = moment.astimezone(UTC)
    return utc - ((utc - _EPOCH) % size)


@lru_cache(maxsize=65536)
def _start_of(index: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(index * seconds, UTC)


def minute_of(moment: datetime) -> datetime:
    """The start of the minute window holding `moment` (cached; for per-event use).

    Exact integer arithmetic on microseconds (a float timestamp can round 59.999999 up); the
    folds below index windows the same way, `(moment - epoch) // size`."""
    return _start_of((moment - _EPOCH) // MINUTE, 60)


@lru_cache(maxsize=4096)
def _utc_day(day_index: int) -> date:
    return _start_of(day_index, 86_400).date()


@dataclass
class Totals:
    """Counters kept per window key and per day."""

    events: int = 0
    purchases: int = 0
    revenue: Decimal = field(default_factory=Decimal)


WindowKey = tuple[datetime, str, str]  # (minute start, dimension, key)
DayKey = tuple[date, str, str]  # (UTC day, event_type, country)


def _fold_totals(keyed: Iterable[tuple[object, UserEvent]]) -> dict:
    """Sum (key, event) pairs into [events, purchases, revenue] per key: plain lists on this
    per-event hot path, turned into `Totals` by the caller once the keys are final."""
    acc: dict = {}
    for key, event in keyed:
        row = acc.get(key)
        if event.event_type is _PURCHASE:
            revenue = event.value or 0
            if row is None:
                acc[key] = [1, 1, revenue]
            else:
                row[0] += 1
                row[1] += 1
                row[2] += revenue
        elif row is None:
            acc[key] = [1, 0, 0]
        else:
            row[0] += 1
    return acc


def _totals(acc: dict) -> dict:
    return {key: Totals(n, p, Decimal(r)) for key, (n, p, r) in acc.items()}


def minute_windows(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[WindowKey, Totals]:
    """Per minute: totals over all events and by event type, country and device."""
    # One fold per event on (minute, type, country, device), then a roll-up of those few
    # combinations into the four dimensions: a quarter of the per-event work of folding each.
    combos = _fold_totals((((t - _EPOCH) // MINUTE, e.event_type, e.country, e.device), e) for e, t in timed)
    acc: dict = {}
    for (index, event_type, country, device), (n, p, r) in combos.items():
        minute = _start_of(index, 60)
        # StrEnum members are the strings they stand for.
        for key in ((minute, "all", "all"), (minute, "event_type", event_type), (minute, "country", country),
                    (minute, "device", device)):  # fmt: skip
            row = acc.get(key)
            if row is None:
                acc[key] = [n, p, r]
            else:
                row[0] += n
                row[1] += p
                row[2] += r
    return _totals(acc)


def minute_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[datetime, str]]:
    """(minute, user) pairs: the store counts each pair once, for exact active users."""
    pairs = {((t - _EPOCH) // MINUTE, e.user_id) for e, t in timed}
    return {(_start_of(index, 60), user_id) for index, user_id in pairs}


def rate_buckets(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[datetime, int]:
    """Events per 10-second bucket; a rolling rate is a sum of buckets over a span."""
    counts = Counter((t - _EPOCH) // RATE_BUCKET for _, t in timed)
    bucket_s = int(RATE_BUCKET.total_seconds())
    return {_start_of(index, bucket_s): n for index, n in counts.items()}


def daily_totals(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[DayKey, Totals]:
    """Per (UTC day of the event time, event type, country)."""
    acc = _fold_totals((((t - _EPOCH) // _DAY, e.event_type, e.country), e) for e, t in timed)
    return {(_utc_day(day), event_type, country): totals for (day, event_type, country), totals in _totals(acc).items()}


def daily_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[date, str, str, str]]:
    """(day, event type, country, user): counted once each, for exact unique users."""
    keys = {((t - _EPOCH) // _DAY, e.event_type, e.country, e.user_id) for e, t in timed}
    return {(_utc_day(day), event_type, country, user_id) for day, event_type, country, user_id in keys}
