"""Feeding newly stored events to the projections: users and sessions, then the aggregates every
partition shares. Recording (`application.ingest`) and `analytics replay` call the same code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from application.messages import ReceivedEvent, TimingRules
from application.ports.event_store import UnitOfWork
from domain.sessions import Placement, place_in_sessions
from domain.users import UserHistory, history_before, user_activity
from domain.windows import aggregate


def apply_projections(
    uow: UnitOfWork, new: Sequence[ReceivedEvent], rules: TimingRules
) -> tuple[dict[str, UserHistory], list[Placement | None]]:
    """Feed newly stored events (in log order) to every projection.

    Returns each user's history before these events and each event's session. Late
    events count in users and daily stats but not in minute windows or sessions,
    which closed before they came (see `domain.event_time`).
    """
    history, placements, _ = apply_user_projections(uow, new, rules)
    add_aggregates(uow, new)
    return history, placements


def add_aggregates(uow: UnitOfWork, new: Sequence[ReceivedEvent]) -> None:
    """Daily stats and minute windows of newly stored events (late ones count in the day only).

    Their rows (today, this minute) are shared by every partition's writer, so a transaction
    that merged them holds up the others until it commits: call this last before the commit.
    """
    if not new:
        return
    timings = [r.timing for r in new]
    deltas = aggregate([r.event for r in new], [t.event_time for t in timings], [t.late for t in timings])
    uow.daily_stats.add(deltas.daily, deltas.daily_users)
    if deltas.minutes:
        uow.windows.add(deltas.minutes, deltas.minute_users, deltas.rates)


class UserProjections(NamedTuple):
    history: dict[str, UserHistory]  # each user's, before these events
    placements: list[Placement | None]  # each event's session; None for a late one
    totals: dict[str, int]  # each user's stored events, these included


def apply_user_projections(uow: UnitOfWork, new: Sequence[ReceivedEvent], rules: TimingRules) -> UserProjections:
    """Users and sessions (rows of this partition's users alone): `apply_projections` without
    the shared aggregates."""
    events = [r.event for r in new]
    times = [r.timing.event_time for r in new]
    activity = user_activity(events, times)
    after = uow.users.apply(activity.values())
    history = {user_id: history_before(after[user_id], partial) for user_id, partial in activity.items()}
    totals = {user_id: counts.total_events for user_id, counts in after.items()}
    on_time = [(e.user_id, t) for e, t, r in zip(events, times, new, strict=True) if not r.timing.late]
    if not on_time:
        return UserProjections(history, [None] * len(new), totals)
    spans: dict[str, list[datetime]] = {}
    for user_id, moment in on_time:
        span = spans.get(user_id)
        if span is None:
            spans[user_id] = [moment, moment]
        elif moment < span[0]:
            span[0] = moment
        elif moment > span[1]:
            span[1] = moment
    gap = rules.session_gap
    known = uow.sessions.near({user: (low - gap, high + gap) for user, (low, high) in spans.items()})
    changes = place_in_sessions(known, on_time, gap)
    uow.sessions.apply(changes.upserts, changes.deleted)
    if len(on_time) == len(new):
        return UserProjections(history, changes.placements, totals)
    placed = iter(changes.placements)
    return UserProjections(history, [None if r.timing.late else next(placed) for r in new], totals)
