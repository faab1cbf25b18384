"""The event store (Postgres): the append-only event log of record plus its projections.

Everything a batch changes happens in one unit of work: the new events, the
projections updated from those new events only, dead letters and the consumed
offsets commit together or not at all. That is what makes effects exactly-once
on top of an at-least-once log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import NamedTuple, Protocol, Self
from uuid import UUID

from application.messages import Anomaly, LogPosition, ReceivedEvent
from domain.events import PastEvent
from domain.failures import FailedEvent
from domain.features import UserFeatureState
from domain.sessions import Session
from domain.stats import DailyStats
from domain.users import User, UserActivity, UserTotals
from domain.windows import DayKey, Totals, WindowKey


class EventRepository(Protocol):
    def add_new(
        self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None
    ) -> list[ReceivedEvent]:
        """Store events whose `event_id` is not stored yet; return exactly those.

        Within one call, the first occurrence of an id (in log order) wins. `scores[i]` is
        `events[i]`'s `anomaly_score` (None, or no `scores`: unscored).
        """
        ...

    def add_all_new(self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None) -> None:
        """Store events the caller believes are all new (distinct ids, none stored), the fastest way.

        If any is stored already, raise `AlreadyStored`; the unit of work is then unusable (roll it
        back) and the caller redoes its work with `unseen` and `add_new`. Worth it where
        redelivery is rare: the usual batch then skips the check for each id."""
        ...

    def unseen(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        """The first occurrence (in log order) of each id that is not stored yet."""
        ...

    def recent_by_user(self, user_ids: Sequence[str], limit: int) -> dict[str, list[tuple[PastEvent, datetime]]]:
        """Each user's latest `limit` stored events by event time, with their event times, in the order
        they were stored (the order a scorer saw them, late ones included): what rebuilding a user's
        feature state reads, not the events' payloads."""
        ...

    def anomaly_score(self, event_id: UUID) -> float | None:
        """The stored event's combined anomaly score (None: unscored or unknown)."""
        ...

    def count(self) -> int: ...

    def in_log_order(self, page_size: int) -> Iterator[list[ReceivedEvent]]:
        """Every stored event, in pages, ordered by (topic, partition, offset).

        Streams: the unit of work can write while a replay reads.
        """
        ...


class UserRepository(Protocol):
    def apply(self, activity: Iterable[UserActivity]) -> dict[str, UserTotals]:
        """Merge partial profiles (see `domain.users.merge_user`) into stored ones; return each
        merged profile's counts (with the activity they tell the user's history before it)."""
        ...

    def get(self, user_id: str) -> User | None: ...

    def get_many(self, user_ids: Iterable[str]) -> dict[str, User | None]:
        """Stored profiles of these users (None for unknown ones)."""
        ...

    def count(self) -> int: ...


class DeadLetterRepository(Protocol):
    def add(self, failures: Sequence[FailedEvent]) -> int:
        """Store dead letters; one already stored for the same log position is skipped.

        Returns how many were new.
        """
        ...

    def count(self) -> int: ...

    def latest(self, limit: int) -> list[FailedEvent]: ...

    def pending_replay(self, error_type: str | None, limit: int) -> list[FailedEvent]:
        """Dead letters (with their `id`) not replayed yet, oldest first."""
        ...

    def mark_replayed(self, ids: Sequence[int], at: datetime) -> None: ...


class DailyStatsRepository(Protocol):
    def add(self, totals: Mapping[DayKey, Totals], users: Iterable[tuple[date, str, str, str]]) -> None:
        """Add per-day totals; each (day, type, country, user) raises unique_users once ever."""
        ...

    def all(self) -> list[DailyStats]: ...


class WindowRepository(Protocol):
    def add(
        self,
        minutes: Mapping[WindowKey, Totals],
        minute_users: Iterable[tuple[datetime, str]],
        rate_buckets: Mapping[datetime, int],
    ) -> None:
        """Add minute-window totals, active-user pairs (each counted once) and rate buckets."""
        ...

    def minute_rows(self) -> list[tuple]:
        """Every (window_start, dimension, key, events, purchases, revenue, active_users) row, sorted."""
        ...

    def rate_rows(self) -> list[tuple[datetime, int]]: ...


class SessionRepository(Protocol):
    def near(self, spans: Mapping[str, tuple[datetime, datetime]]) -> dict[str, list[Session]]:
        """Per user, the stored sessions that overlap the given (from, to) span."""
        ...

    def apply(self, upserts: Sequence[Session], deleted: Sequence[tuple[str, datetime]]) -> None: ...

    def all(self) -> list[Session]: ...


class OffsetRepository(Protocol):
    def committed(self, consumer: str, topic: str) -> dict[int, int]:
        """Next offset to read per partition, as last committed with a batch."""
        ...

    def advance(self, position: LogPosition) -> None:
        """Record that everything before `position.next_offset` is processed."""
        ...


class AnomalyRepository(Protocol):
    def add(self, anomalies: Sequence[Anomaly]) -> int:
        """Store anomaly records; one already stored for the same event is skipped. Returns how many were new."""
        ...

    def count(self) -> int: ...


class DetectorStateRepository(Protocol):
    """Saved states of online detectors, one per (detector, partition)."""

    def load(self, name: str, partition: int) -> bytes | None: ...

    def save(self, name: str, partition: int, state: bytes, events_learned: int) -> None: ...


class StaleFeatureState(NamedTuple):
    """A saved state that lacks the user's latest stored events, and those events."""

    state: UserFeatureState  # as saved
    since: list[tuple[PastEvent, datetime]]  # the user's events stored after it, in the order stored


class SavedFeatureStates(NamedTuple):
    """What the store holds for some users' feature states (`FeatureStateRepository.read`)."""

    whole: dict[str, UserFeatureState]  # saved with all of the user's stored events
    stale: dict[str, StaleFeatureState]  # saved before the user's last few events, with those
    unknown: set[str]  # users with no stored event: nothing to rebuild them from


class FeatureStateRepository(Protocol):
    """Users' saved feature states, each with the number of the user's stored events it holds.

    A scorer that meets a user it does not hold in memory (after a restart, say) takes the saved
    state instead of replaying the user's past events: as it is while it is whole (saved when
    the user had as many stored events, `users.total_events`, as now), else brought up to date
    with the few events stored after it. The count makes both exact: a state saved by a unit of
    work that rolled back, or one that later batches have moved past, is never taken for more
    than it holds."""

    def read(self, user_ids: Sequence[str], catch_up: int) -> SavedFeatureStates:
        """Each user's saved state: whole; stale, with every event stored after it in the order
        stored; or neither (none saved, unreadable, or it cannot be caught up: more events
        missing than `catch_up`, or not all of them among the user's `catch_up` latest by event
        time, as a late event stored since may not be). And which users have no stored event."""
        ...

    def save(self, states: Sequence[tuple[str, int, UserFeatureState]]) -> None:
        """(user_id, stored events the state holds, state) each, a user at most once; replaces what
        was saved for the user. What is saved does not change when the given state objects do.
        Save after storing what the states hold: for `read`, events a unit of work stores after
        its save are not told apart from those before it."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the store. Use as a context manager; uncommitted work rolls back."""

    events: EventRepository
    users: UserRepository
    dead_letters: DeadLetterRepository
    daily_stats: DailyStatsRepository
    windows: WindowRepository
    sessions: SessionRepository
    offsets: OffsetRepository
    anomalies: AnomalyRepository
    detector_states: DetectorStateRepository
    feature_states: FeatureStateRepository

    def clear_projections(self) -> None:
        """Empty every table derived from `events` (users, daily stats, windows, sessions)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
