"""`InMemoryUnitOfWork`: the event store in dictionaries, for tests and local experiments.

It honours the same contract as the Postgres store (tests/contracts): nothing is
visible to others until commit, and a failed unit of work leaves no trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Self
from uuid import UUID

from adapters.in_memory.feature_states import InMemoryFeatureStates, latest_by_user, past
from adapters.in_memory.projections import (
    InMemoryDailyStats,
    InMemorySessions,
    InMemoryWindows,
    ProjectionState,
)
from adapters.in_memory.state import InMemoryState
from application.messages import Anomaly, LogPosition, ReceivedEvent, first_occurrences
from domain.errors import AlreadyStored
from domain.events import PastEvent
from domain.failures import FailedEvent
from domain.users import User, UserActivity, UserTotals, merge_user


class _Events:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def add_new(
        self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None
    ) -> list[ReceivedEvent]:
        new = []
        for received, score in zip(events, [None] * len(events) if scores is None else scores, strict=True):
            event_id = received.event.event_id
            if event_id not in self._state.events:
                self._state.events[event_id] = received
                if score is not None:
                    self._state.scores[event_id] = score
                new.append(received)
        return new

    def add_all_new(self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None) -> None:
        if len(first_occurrences(events)) < len(events) or any(r.event.event_id in self._state.events for r in events):
            raise AlreadyStored(f"some of {len(events)} events given as new are stored already")
        self.add_new(events, scores)

    def unseen(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        stored = self._state.events
        return [r for event_id, r in first_occurrences(events).items() if event_id not in stored]

    def recent_by_user(self, user_ids: Sequence[str], limit: int) -> dict[str, list[tuple[PastEvent, datetime]]]:
        latest = latest_by_user(self._state, user_ids, limit)
        return {user_id: [past(r) for _, r in stored] for user_id, stored in latest.items()}

    def anomaly_score(self, event_id: UUID) -> float | None:
        return self._state.scores.get(event_id)

    def count(self) -> int:
        return len(self._state.events)

    def in_log_order(self, page_size: int) -> Iterator[list[ReceivedEvent]]:
        ordered = sorted(self._state.events.values(), key=_log_position)
        for start in range(0, len(ordered), page_size):
            yield ordered[start : start + page_size]


class _Users:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def apply(self, activity: Iterable[UserActivity]) -> dict[str, UserTotals]:
        after = {}
        for partial in activity:
            after[partial.user_id] = merge_user(self._state.users.get(partial.user_id), partial)
        self._state.users.update(after)
        return {user_id: UserTotals(u.total_events, u.total_purchases) for user_id, u in after.items()}

    def get(self, user_id: str) -> User | None:
        return self._state.users.get(user_id)

    def get_many(self, user_ids: Iterable[str]) -> dict[str, User | None]:
        return {user_id: self._state.users.get(user_id) for user_id in user_ids}

    def count(self) -> int:
        return len(self._state.users)


class _Anomalies:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def add(self, anomalies: Sequence[Anomaly]) -> int:
        added = 0
        for anomaly in anomalies:
            if anomaly.event_id not in self._state.anomalies:
                self._state.anomalies[anomaly.event_id] = anomaly
                added += 1
        return added

    def count(self) -> int:
        return len(self._state.anomalies)


class _DetectorStates:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def load(self, name: str, partition: int) -> bytes | None:
        saved = self._state.detector_states.get((name, partition))
        return saved[0] if saved else None

    def save(self, name: str, partition: int, state: bytes, events_learned: int) -> None:
        self._state.detector_states[(name, partition)] = (state, events_learned)


class _DeadLetters:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def add(self, failures: Sequence[FailedEvent]) -> int:
        known = {_identity(f) for f in self._state.dead_letters} - {None}
        added = 0
        for failure in failures:
            identity = _identity(failure)
            if identity is not None and identity in known:
                continue
            known.add(identity)
            self._state.dead_letters.append(failure.model_copy(update={"id": len(self._state.dead_letters) + 1}))
            added += 1
        return added

    def pending_replay(self, error_type: str | None, limit: int) -> list[FailedEvent]:
        pending = [
            f for f in self._state.dead_letters
            if f.id not in self._state.replayed and (error_type is None or f.error_type == error_type)
        ]  # fmt: skip
        return pending[:limit]

    def mark_replayed(self, ids: Sequence[int], at: datetime) -> None:
        self._state.replayed.update(ids)

    def count(self) -> int:
        return len(self._state.dead_letters)

    def latest(self, limit: int) -> list[FailedEvent]:
        return list(reversed(self._state.dead_letters[-limit:])) if limit > 0 else []


class _Offsets:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def committed(self, consumer: str, topic: str) -> dict[int, int]:
        return {p: o for (c, t, p), o in self._state.offsets.items() if (c, t) == (consumer, topic)}

    def advance(self, position: LogPosition) -> None:
        key = (position.consumer, position.topic, position.partition)
        self._state.offsets[key] = position.next_offset


def _log_position(received: ReceivedEvent) -> tuple[str, int, int]:
    return received.topic, received.partition, received.offset


def _identity(failure: FailedEvent) -> tuple | None:
    """What makes two dead letters one: the log position, or the retried request's key and item."""
    if failure.source_offset is not None:
        return "log", failure.source_topic, failure.source_partition, failure.source_offset
    if failure.request_key is not None and failure.request_index is not None:
        return "request", failure.request_key, failure.request_index
    return None


class InMemoryUnitOfWork:
    """Works on a private copy of the state; `commit` publishes it atomically."""

    def __init__(self, state: InMemoryState | None = None) -> None:
        self.state = state if state is not None else InMemoryState()
        self.committed = False

    def __enter__(self) -> Self:
        self._begin()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._working = None

    def commit(self) -> None:
        with self.state.lock:
            self.state.events = self._working.events
            self.state.scores = self._working.scores
            self.state.anomalies = self._working.anomalies
            self.state.detector_states = self._working.detector_states
            self.state.feature_states = self._working.feature_states
            self.state.users = self._working.users
            self.state.dead_letters = self._working.dead_letters
            self.state.offsets = self._working.offsets
            self.state.replayed = self._working.replayed
            self.state.projections = self._working.projections
        self.committed = True
        self._begin()

    def rollback(self) -> None:
        self._begin()

    def _begin(self) -> None:
        with self.state.lock:
            self._working = InMemoryState(
                events=dict(self.state.events),
                scores=dict(self.state.scores),
                anomalies=dict(self.state.anomalies),
                detector_states=dict(self.state.detector_states),
                feature_states=dict(self.state.feature_states),
                users=dict(self.state.users),
                dead_letters=list(self.state.dead_letters),
                offsets=dict(self.state.offsets),
                replayed=set(self.state.replayed),
                projections=self.state.projections.copy(),
            )
        self.events = _Events(self._working)
        self.users = _Users(self._working)
        self.dead_letters = _DeadLetters(self._working)
        self.offsets = _Offsets(self._working)
        self.anomalies = _Anomalies(self._working)
        self.detector_states = _DetectorStates(self._working)
        self.feature_states = InMemoryFeatureStates(self._working)
        self.daily_stats = InMemoryDailyStats(self._working.projections)
        self.windows = InMemoryWindows(self._working.projections)
        self.sessions = InMemorySessions(self._working.projections)

    def clear_projections(self) -> None:
        self._working.users.clear()
        self._working.projections = ProjectionState()
        self.daily_stats = InMemoryDailyStats(self._working.projections)
        self.windows = InMemoryWindows(self._working.projections)
        self.sessions = InMemorySessions(self._working.projections)
