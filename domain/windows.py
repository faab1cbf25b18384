"""Event-time window folds: what a batch of events adds to each window.

Windows are aligned to the Unix epoch (UTC). Each fold returns deltas that the store
adds to what it holds, so a window's value is the same whether its events came in one
batch or many, in order or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True, slots=True)
class BatchAggregates:
    """What a batch adds to the aggregates every partition shares: per-day totals and unique-user
    members, per-minute totals and active-user members, and 10-second rate buckets."""

    daily: dict[DayKey, Totals]
    daily_users: set[tuple[date, str, str, str]]
    minutes: dict[WindowKey, Totals]
    minute_users: set[tuple[datetime, str]]
    rates: dict[datetime, int]


_BUCKETS_PER_MINUTE = MINUTE // RATE_BUCKET
_BUCKETS_PER_DAY = _DAY // RATE_BUCKET


def aggregate(events: Sequence[UserEvent], times: Sequence[datetime], late: Sequence[bool]) -> BatchAggregates:
    """Every window and daily delta of a batch, in one pass over its events (`times[i]` is
    `events[i]`'s event time). Late events (`late[i]`) count in their day only: the minute
    windows and rate buckets had closed when they came.

    Each on-time event is folded once, on its (10-second bucket, type, country, device); minutes,
    buckets and days are roll-ups of those few combinations. This runs for every event, so it
    is one loop of integer arithmetic rather than a fold per projection."""
    combos: dict = {}  # (bucket, type, country, device) -> [events, purchases, revenue], on-time events
    late_combos: dict = {}  # (day, type, country) -> the same, late events
    minute_members: set = set()
    day_members: set = set()
    for event, moment, is_late in zip(events, times, late, strict=True):
        bucket = (moment - _EPOCH) // RATE_BUCKET  # exact: integer microseconds, no float rounding
        kind, country, user = event.event_type, event.country, event.user_id
        day_members.add((bucket // _BUCKETS_PER_DAY, kind, country, user))
        if is_late:
            key, acc = (bucket // _BUCKETS_PER_DAY, kind, country), late_combos
        else:
            minute_members.add((bucket // _BUCKETS_PER_MINUTE, user))
            key, acc = (bucket, kind, country, event.device), combos
        row = acc.get(key)
        if kind is _PURCHASE:
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
    return _rolled_up(combos, late_combos, minute_members, day_members)


def _rolled_up(combos: dict, late_combos: dict, minute_members: set, day_members: set) -> BatchAggregates:
    minutes: dict = {}
    rates: dict = {}
    days: dict = dict(late_combos)
    for (bucket, kind, country, device), (n, p, r) in combos.items():
        minute = _start_of(bucket // _BUCKETS_PER_MINUTE, 60)
        # StrEnum members are the strings they stand for.
        for key in ((minute, "all", "all"), (minute, "event_type", kind), (minute, "country", country),
                    (minute, "device", device)):  # fmt: skip
            _add(minutes, key, n, p, r)
        rates[bucket] = rates.get(bucket, 0) + n
        _add(days, (bucket // _BUCKETS_PER_DAY, kind, country), n, p, r)
    bucket_s = RATE_BUCKET // timedelta(seconds=1)
    return BatchAggregates(
        daily={(_utc_day(day), kind, country): totals for (day, kind, country), totals in _totals(days).items()},
        daily_users={(_utc_day(day), kind, country, user) for day, kind, country, user in day_members},
        minutes=_totals(minutes),
        minute_users={(_start_of(minute, 60), user) for minute, user in minute_members},
        rates={_start_of(bucket, bucket_s): n for bucket, n in rates.items()},
    )


def _add(acc: dict, key: object, n: int, p: int, r: Decimal | int) -> None:
    row = acc.get(key)
    if row is None:
        acc[key] = [n, p, r]
    else:
        row[0] += n
        row[1] += p
        row[2] += r


def _totals(acc: dict) -> dict:
    return {key: Totals(n, p, Decimal(r)) for key, (n, p, r) in acc.items()}


def _on_time(timed: Iterable[tuple[UserEvent, datetime]]) -> BatchAggregates:
    pairs = list(timed)
    return aggregate([e for e, _ in pairs], [t for _, t in pairs], [False] * len(pairs))


def minute_windows(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[WindowKey, Totals]:
    """Per minute: totals over all events and by event type, country and device."""
    return _on_time(timed).minutes


def minute_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[datetime, str]]:
    """(minute, user) pairs: the store counts each pair once, for exact active users."""
    return _on_time(timed).minute_users


def rate_buckets(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[datetime, int]:
    """Events per 10-second bucket; a rolling rate is a sum of buckets over a span."""
    return _on_time(timed).rates


def daily_totals(timed: Iterable[tuple[UserEvent, datetime]]) -> dict[DayKey, Totals]:
    """Per (UTC day of the event time, event type, country)."""
    return _on_time(timed).daily


def daily_users(timed: Iterable[tuple[UserEvent, datetime]]) -> set[tuple[date, str, str, str]]:
    """(day, event type, country, user): counted once each, for exact unique users."""
    return _on_time(timed).daily_users
