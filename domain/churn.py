"""Churn features and labels: one fixed-order vector per user at a cutoff, from the past only.

A user's events are `(event_time, event_type, value, session_id)` tuples (`ChurnEvent`).
`churn_features(events, cutoff, observation=...)` reads only the events stamped at or before
`cutoff`, so the vector at a cutoff never changes when later events arrive: no look-ahead.
`churn_label` says whether the user then did nothing in the label horizon after the cutoff.

Time scales are relative. The observation window is `[cutoff - observation, cutoff]`, and the
classic "last 1 / 7 / 30 days" frequency windows are 1/30, 7/30 and 30/30 of it, so the same
definitions serve a year of production traffic and a simulated stream of a few seconds.
Durations (recency, tenure) are in units of `observation` too. A model must be trained and
applied with the same `observation` length (the training code keeps it fixed).

Features (`FEATURES`, in order):

- recency: (cutoff - last event at or before cutoff) / observation; >= 0, may exceed 1 when
  the last event is older than the window.
- tenure: (cutoff - first event) / observation, capped at 1.
- events_last_1d, events_last_7d, events_last_30d: events stamped in the last 1/30, 7/30 and
  30/30 of the observation window (both ends included).
- purchases: purchase events in the window.
- spend_log: log1p of the summed purchase values in the window (values as sent, whatever the
  currency; events without a value add nothing).
- sessions: distinct session ids among the window's events.
- events_per_session: events_last_30d / sessions (0 without sessions).
- event_types: distinct event types in the window.
- active_periods: how many of the window's 30 periods (each 1/30 of it, counted back from
  the cutoff) hold at least one event (regularity: a light but steady user is not a fading one).
- trend: (events in the recent half of the window - events in the older half) / (both),
  in [-1, 1]; 0 without events. Negative: activity is fading.
- session_rate: the user's distinct sessions over their whole history up to the cutoff,
  divided by their uncapped tenure (in observation spans, floored at one period so that a
  newcomer's rate stays finite). Unlike the window counts it still describes a user who was
  silent all window long.
- overdue: recency * session_rate, the number of sessions the user would have started since
  their last event at their usual pace. About 1 or less for a regular user; it grows while a
  churner stays away, and it tells a light user's normal silence from a heavy user's.

Label: `churn_label(n)` is 1 (churned) when the user has no event in the horizon after the
cutoff (`n == 0`), else 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from math import log1p

from domain.events import EventType

ChurnEvent = tuple[datetime, str, Decimal | None, str]  # event_time, event_type, value, session_id

FEATURES: tuple[str, ...] = (
    "recency",
    "tenure",
    "events_last_1d",
    "events_last_7d",
    "events_last_30d",
    "purchases",
    "spend_log",
    "sessions",
    "events_per_session",
    "event_types",
    "active_periods",
    "trend",
    "session_rate",
    "overdue",
)
PERIODS = 30  # the observation window stands for "30 days": 30 periods of one "day"
_PURCHASE = EventType.PURCHASE.value


def churn_features(
    events_of_user: Sequence[ChurnEvent], cutoff: datetime, *, observation: timedelta
) -> tuple[float, ...]:
    """The user's features at `cutoff`, from the events stamped at or before it (any order).

    Raises `ValueError` when `observation` is not positive or no event is at or before `cutoff`
    (such a user did not exist yet: there is nothing to score).
    """
    span = observation.total_seconds()
    if span <= 0:
        raise ValueError("observation must be a positive duration")
    past = [e for e in events_of_user if e[0] <= cutoff]
    if not past:
        raise ValueError("no event at or before the cutoff")
    first = min(e[0] for e in past)
    last = max(e[0] for e in past)
    recency = (cutoff - last).total_seconds() / span
    tenure = min(1.0, (cutoff - first).total_seconds() / span)

    # Age of each event in the window, as a share of the window: 0 = at the cutoff, 1 = its start.
    window = [(e, (cutoff - e[0]).total_seconds() / span) for e in past]
    window = [(e, age) for e, age in window if age <= 1.0]
    ages = [age for _, age in window]
    count = len(window)
    purchases = [e for e, _ in window if e[1] == _PURCHASE]
    spend = sum((e[2] for e in purchases if e[2] is not None), Decimal(0))
    sessions = len({e[3] for e, _ in window})
    recent_half = sum(1 for age in ages if age < 0.5)
    early_half = count - recent_half
    lifetime = max((cutoff - first).total_seconds() / span, 1 / PERIODS)
    session_rate = len({e[3] for e in past}) / lifetime
    return (
        recency,
        tenure,
        float(sum(1 for age in ages if age <= 1 / PERIODS)),
        float(sum(1 for age in ages if age <= 7 / PERIODS)),
        float(count),
        float(len(purchases)),
        log1p(float(spend)),
        float(sessions),
        count / sessions if sessions else 0.0,
        float(len({e[1] for e, _ in window})),
        float(len({min(PERIODS - 1, int(age * PERIODS)) for age in ages})),
        (recent_half - early_half) / count if count else 0.0,
        session_rate,
        recency * session_rate,
    )


def churn_label(events_after_cutoff_count: int) -> int:
    """1 (churned) when the user did nothing in the horizon after the cutoff, else 0."""
    if events_after_cutoff_count < 0:
        raise ValueError("an event count cannot be negative")
    return 1 if events_after_cutoff_count == 0 else 0
