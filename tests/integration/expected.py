"""The stream projections computed independently, with plain Python, from the events sent
and the times the platform received them (the rules of domain.event_time, restated)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.events import UserEvent

LATENESS = FUTURE = timedelta(minutes=5)
GAP = timedelta(minutes=30)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_time(e: UserEvent, received_at: datetime) -> tuple[datetime, bool]:
    t = e.timestamp + (received_at - e.sent_at) if e.sent_at else e.timestamp
    if t > received_at + FUTURE:
        t = received_at
    return t, t < received_at - LATENESS


def floor(t: datetime, size: timedelta) -> datetime:
    return EPOCH + ((t - EPOCH) // size) * size


def expected_projections(events: list[UserEvent], received: dict[str, datetime]) -> dict[str, object]:
    daily = defaultdict(lambda: [0, set(), 0, Decimal(0)])
    minutes = defaultdict(lambda: [0, 0, Decimal(0)])
    active = defaultdict(set)
    rates = defaultdict(int)
    times_by_user = defaultdict(list)
    for e in events:
        t, late = event_time(e, received[str(e.event_id)])
        buy = e.event_type == "purchase"
        d = daily[(t.astimezone(UTC).date(), e.event_type.value, e.country)]
        d[0] += 1
        d[1].add(e.user_id)
        d[2] += buy
        d[3] += e.value if buy else 0
        if late:
            continue
        m = floor(t, timedelta(minutes=1))
        for dim, key in (
            ("all", "all"),
            ("event_type", e.event_type.value),
            ("country", e.country),
            ("device", e.device.value),
        ):
            row = minutes[(m, dim, key)]
            row[0] += 1
            row[1] += buy
            row[2] += e.value if buy else 0
        active[m].add(e.user_id)
        rates[floor(t, timedelta(seconds=10))] += 1
        times_by_user[e.user_id].append(t)
    sessions = []
    for user, times in times_by_user.items():
        times.sort()
        start = prev = times[0]
        count = 0
        for t in times:
            if t - prev > GAP:
                sessions.append((user, start, prev, count))
                start, count = t, 0
            prev, count = t, count + 1
        sessions.append((user, start, prev, count))
    return {
        "daily_stats": sorted((k[0], k[1], k[2], v[0], len(v[1]), v[2], v[3]) for k, v in daily.items()),
        "realtime_windows": sorted(
            (k[0], k[1], k[2], v[0], v[1], v[2], len(active[k[0]]) if k[1] == "all" else 0) for k, v in minutes.items()
        ),
        "event_rate_buckets": sorted(rates.items()),
        "sessions": sorted(sessions),
    }


def stored_projections(db) -> dict[str, object]:
    return {
        "daily_stats": db.rows(
            "SELECT day, event_type, country, events, unique_users, purchases, revenue"
            " FROM daily_stats ORDER BY 1, 2, 3"
        ),
        "realtime_windows": db.rows(
            "SELECT window_start, dimension, key, events, purchases, revenue, active_users"
            " FROM realtime_windows ORDER BY 1, 2, 3"
        ),
        "event_rate_buckets": db.rows("SELECT bucket_start, events FROM event_rate_buckets ORDER BY 1"),
        "sessions": db.rows("SELECT user_id, session_start, session_end, events FROM sessions ORDER BY 1, 2"),
    }
