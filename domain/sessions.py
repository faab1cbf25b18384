"""Sessionization: a user's (on-time) events split wherever they pause longer than a gap.

A session is an island of event times where consecutive events are at most `gap`
apart. Islands do not depend on arrival order: an event that lands between two
sessions joins (and may bridge) them. `place_in_sessions` folds new events into the
sessions already known and says what changed, for the store to apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

DEFAULT_SESSION_GAP = timedelta(minutes=30)


class Session(NamedTuple):
    """A stored session (a plain tuple: a batch reads and writes one per active user)."""

    user_id: str
    start: datetime
    end: datetime
    events: int

    @property
    def bounce(self) -> bool:
        """A one-event session: the visitor left without a second interaction."""
        return self.events == 1

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


class Placement(NamedTuple):
    """Where one event landed: its session (by start) and its number within it so far."""

    session_start: datetime
    event_number: int


@dataclass
class SessionChanges:
    placements: list[Placement] = field(default_factory=list)
    upserts: list[Session] = field(default_factory=list)
    deleted: list[tuple[str, datetime]] = field(default_factory=list)  # (user, start) of replaced sessions


def place_in_sessions(
    known: Mapping[str, Iterable[Session]],
    timed: Iterable[tuple[str, datetime]],
    gap: timedelta = DEFAULT_SESSION_GAP,
) -> SessionChanges:
    """Add `(user_id, event_time)` points, in processing order, to the users' sessions.

    `known` must hold every stored session of those users that lies within `gap` of
    one of the new points (the store loads exactly those).
    """
    # [start, end, events] lists on the hot path (per event); models only for what changed.
    working = {user: sorted([s.start, s.end, s.events] for s in sessions) for user, sessions in known.items()}
    changes = SessionChanges()
    place = changes.placements.append
    for user_id, moment in timed:
        sessions = working.get(user_id)
        if not sessions:  # the user's first session: nothing stored nor earlier in the batch is near it
            working[user_id] = [[moment, moment, 1]]
            place(Placement(moment, 1))
            continue
        # near: starts at most `gap` after it, ends at most `gap` before. Most users have one session
        # in reach, tested without building a list.
        if len(sessions) == 1:
            near = sessions if sessions[0][0] - gap <= moment <= sessions[0][1] + gap else []
        else:
            low, high = moment - gap, moment + gap
            near = [s for s in sessions if s[0] <= high and low <= s[1]]
        if len(near) == 1:  # the common case: the event continues a session
            merged = near[0]
            if moment < merged[0]:
                merged[0] = moment
            elif moment > merged[1]:
                merged[1] = moment
            merged[2] += 1
        else:  # a new session, or a bridge between sessions
            merged = [min([moment, *(n[0] for n in near)]), max([moment, *(n[1] for n in near)]),
                      1 + sum(n[2] for n in near)]  # fmt: skip
            sessions[:] = sorted([s for s in sessions if not any(s is n for n in near)] + [merged])
        place(Placement(merged[0], merged[2]))
    for user_id, sessions in working.items():
        before = {s.start: s for s in known.get(user_id, ())}
        after = {start: (end, events) for start, end, events in sessions}
        for start, (end, events) in after.items():
            old = before.get(start)
            if old is None or (old.end, old.events) != (end, events):
                changes.upserts.append(Session(user_id, start, end, events))
        changes.deleted += [(user_id, start) for start in before if start not in after]
    return changes
