"""The event store (Postgres): the append-only event log of record plus its projections.

Everything a batch changes happens in one unit of work: the new events, the
projections updated from those new events only, dead letters and the consumed
offsets commit together or not at all. That is what makes effects exactly-once
on top of an at-least-once log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, Self

from application.messages import LogPosition, ReceivedEvent
from domain.failures import FailedEvent
from domain.users import User


class EventRepository(Protocol):
    def add_new(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        """Store events whose `event_id` is not stored yet; return exactly those.

        Within one call, the first occurrence of an id (in log order) wins.
        """
        ...

    def count(self) -> int: ...


class UserRepository(Protocol):
    def apply(self, activity: Iterable[User]) -> None:
        """Merge partial profiles (see `domain.users.merge_user`) into stored ones."""
        ...

    def get(self, user_id: str) -> User | None: ...

    def count(self) -> int: ...


class DeadLetterRepository(Protocol):
    def add(self, failures: Sequence[FailedEvent]) -> int:
        """Store dead letters; one already stored for the same log position is skipped.

        Returns how many were new.
        """
        ...

    def count(self) -> int: ...

    def latest(self, limit: int) -> list[FailedEvent]: ...


class OffsetRepository(Protocol):
    def committed(self, consumer: str, topic: str) -> dict[int, int]:
        """Next offset to read per partition, as last committed with a batch."""
        ...

    def advance(self, position: LogPosition) -> None:
        """Record that everything before `position.next_offset` is processed."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the store. Use as a context manager; uncommitted work rolls back."""

    events: EventRepository
    users: UserRepository
    dead_letters: DeadLetterRepository
    offsets: OffsetRepository

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...
