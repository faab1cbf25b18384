"""In-memory daily stats, minute windows and sessions (parts of `InMemoryUnitOfWork`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from domain.sessions import Session
from domain.stats import DailyStats
from domain.windows import DayKey, Totals, WindowKey


@dataclass
class ProjectionState:
    daily: dict[DayKey, list] = field(default_factory=dict)  # [events, purchases, revenue, unique users]
    daily_members: set[tuple[date, str, str, str]] = field(default_factory=set)
    minutes: dict[WindowKey, list] = field(default_factory=dict)  # [events, purchases, revenue]
    minute_members: set[tuple[datetime, str]] = field(default_factory=set)
    rates: dict[datetime, int] = field(default_factory=dict)
    sessions: dict[tuple[str, datetime], Session] = field(default_factory=dict)

    def copy(self) -> ProjectionState:
        return ProjectionState(
            {k: list(v) for k, v in self.daily.items()}, set(self.daily_members),
            {k: list(v) for k, v in self.minutes.items()}, set(self.minute_members),
            dict(self.rates), dict(self.sessions),
        )  # fmt: skip


class InMemoryDailyStats:
    def __init__(self, state: ProjectionState) -> None:
        self._s = state

    def add(self, totals: Mapping[DayKey, Totals], users: Iterable[tuple[date, str, str, str]]) -> None:
        for key, t in totals.items():
            row = self._s.daily.setdefault(key, [0, 0, Decimal(0), 0])
            row[0] += t.events
            row[1] += t.purchases
            row[2] += t.revenue
        for member in users:
            if member not in self._s.daily_members:
                self._s.daily_members.add(member)
                self._s.daily.setdefault(member[:3], [0, 0, Decimal(0), 0])[3] += 1

    def all(self) -> list[DailyStats]:
        return [
            DailyStats(day=d, event_type=t, country=c, events=e, purchases=p, revenue=r, unique_users=u)
            for (d, t, c), (e, p, r, u) in sorted(self._s.daily.items())
        ]


class InMemoryWindows:
    def __init__(self, state: ProjectionState) -> None:
        self._s = state

    def add(
        self,
        minutes: Mapping[WindowKey, Totals],
        minute_users: Iterable[tuple[datetime, str]],
        rate_buckets: Mapping[datetime, int],
    ) -> None:
        for key, t in minutes.items():
            row = self._s.minutes.setdefault(key, [0, 0, Decimal(0)])
            row[0] += t.events
            row[1] += t.purchases
            row[2] += t.revenue
        self._s.minute_members.update(minute_users)
        for bucket, count in rate_buckets.items():
            self._s.rates[bucket] = self._s.rates.get(bucket, 0) + count

    def minute_rows(self) -> list[tuple]:
        active: dict[datetime, int] = {}
        for minute, _ in self._s.minute_members:
            active[minute] = active.get(minute, 0) + 1
        return sorted(
            (start, dim, key, e, p, r, active.get(start, 0) if dim == "all" else 0)
            for (start, dim, key), (e, p, r) in self._s.minutes.items()
        )

    def rate_rows(self) -> list[tuple[datetime, int]]:
        return sorted(self._s.rates.items())


class InMemorySessions:
    def __init__(self, state: ProjectionState) -> None:
        self._s = state

    def near(self, spans: Mapping[str, tuple[datetime, datetime]]) -> dict[str, list[Session]]:
        out: dict[str, list[Session]] = {}
        for (user, _), session in self._s.sessions.items():
            span = spans.get(user)
            if span and session.start <= span[1] and session.end >= span[0]:
                out.setdefault(user, []).append(session)
        return out

    def apply(self, upserts: Sequence[Session], deleted: Sequence[tuple[str, datetime]]) -> None:
        for key in deleted:
            self._s.sessions.pop(key, None)
        for session in upserts:
            self._s.sessions[(session.user_id, session.start)] = session

    def all(self) -> list[Session]:
        return sorted(self._s.sessions.values(), key=lambda s: (s.user_id, s.start))
