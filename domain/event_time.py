"""When an event happened, as far as analytics is concerned, and whether it came too late.

The rules are per event, from the event and the time the platform received it, so any
run — live, after a crash, or a replay — decides the same way, and a user can check
every decision independently:

- event time = `timestamp`, corrected for client clock skew when the client sent
  `sent_at`: `timestamp + (received_at - sent_at)` (PostHog's rule);
- an event time more than `max_future` ahead of `received_at` is clamped to
  `received_at` and flagged;
- an event is late when its event time is more than `allowed_lateness` before
  `received_at`. Late events are stored and counted in daily statistics; they are
  left out of real-time windows and sessions, which have closed by then.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

DEFAULT_ALLOWED_LATENESS = timedelta(minutes=5)
DEFAULT_MAX_FUTURE = timedelta(minutes=5)


class EventTiming(NamedTuple):
    event_time: datetime
    late: bool
    future_clamped: bool


def event_timing(
    timestamp: datetime,
    sent_at: datetime | None,
    received_at: datetime,
    *,
    allowed_lateness: timedelta = DEFAULT_ALLOWED_LATENESS,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
) -> EventTiming:
    """The event time (UTC) of one event and its late/clamped flags (see the module rules)."""
    # UTC first: wall-clock arithmetic in a named zone is off by an hour around DST folds.
    timestamp, received_at = timestamp.astimezone(UTC), received_at.astimezone(UTC)
    corrected = timestamp + (received_at - sent_at) if sent_at is not None else timestamp
    clamped = corrected > received_at + max_future
    if clamped:
        corrected = received_at
    return EventTiming(corrected, corrected < received_at - allowed_lateness, clamped)
