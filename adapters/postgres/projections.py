"""Postgres repositories of the projections: daily stats, minute windows, sessions.

Each batch arrives as deltas (already folded per key in Python), sent as binary arrays
and merged by one set-based statement (`adapters.postgres.sql`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import select

from adapters.postgres import sql
from adapters.postgres.engine import translated_errors
from adapters.postgres.staging import BINARY, NUMBER, TEXT, CopyingRepository, array_params, number_array, text_array
from adapters.postgres.tables import daily_stats, event_rate_buckets, realtime_windows, sessions
from domain.sessions import Session
from domain.stats import DailyStats
from domain.windows import DayKey, Totals, WindowKey

_MEMBER_KINDS = (BINARY, TEXT, TEXT, TEXT)  # (day, event type, country, user)
_TOTAL_KINDS = (BINARY, TEXT, TEXT, NUMBER, NUMBER, NUMBER)  # (day or minute, two keys, events, purchases, revenue)


class PostgresDailyStatsRepository(CopyingRepository):
    def add(self, totals: Mapping[DayKey, Totals], users: Iterable[tuple[date, str, str, str]]) -> None:
        if not totals:
            return
        rows = [(*key, t.events, t.purchases, t.revenue) for key, t in totals.items()]
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.MERGE_DAILY, (*array_params(users, _MEMBER_KINDS), *array_params(rows, _TOTAL_KINDS)))

    def all(self) -> list[DailyStats]:
        query = select(daily_stats).order_by(daily_stats.c.day, daily_stats.c.event_type, daily_stats.c.country)
        with translated_errors():
            return [DailyStats.model_validate(dict(r)) for r in self._conn.execute(query).mappings()]


class PostgresWindowRepository(CopyingRepository):
    def add(
        self,
        minutes: Mapping[WindowKey, Totals],
        minute_users: Iterable[tuple[datetime, str]],
        rate_buckets: Mapping[datetime, int],
    ) -> None:
        if not minutes:
            return
        rows = [(*key, t.events, t.purchases, t.revenue) for key, t in minutes.items()]
        with translated_errors(), self._cursor() as cur:
            rates = (list(rate_buckets), number_array(list(rate_buckets.values())))
            members = array_params(minute_users, (BINARY, TEXT))
            cur.execute(sql.MERGE_WINDOWS, (*rates, *members, *array_params(rows, _TOTAL_KINDS)))

    def minute_rows(self) -> list[tuple]:
        w = realtime_windows.c
        query = select(w.window_start, w.dimension, w.key, w.events, w.purchases, w.revenue, w.active_users)
        with translated_errors():
            return [tuple(r) for r in self._conn.execute(query.order_by(w.window_start, w.dimension, w.key))]

    def rate_rows(self) -> list[tuple[datetime, int]]:
        b = event_rate_buckets.c
        with translated_errors():
            return [tuple(r) for r in self._conn.execute(select(b.bucket_start, b.events).order_by(b.bucket_start))]


class PostgresSessionRepository(CopyingRepository):
    def near(self, spans: Mapping[str, tuple[datetime, datetime]]) -> dict[str, list[Session]]:
        if not spans:
            return {}
        users = list(spans)
        params = (text_array(users), [spans[u][0] for u in users], [spans[u][1] for u in users])
        with translated_errors(), self._cursor() as cur:
            rows = cur.execute(sql.SELECT_NEAR_SESSIONS, params).fetchall()
        out: dict[str, list[Session]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(Session._make(row))
        return out

    def apply(self, upserts: Sequence[Session], deleted: Sequence[tuple[str, datetime]]) -> None:
        with translated_errors(), self._cursor() as cur:
            if deleted:
                cur.execute(sql.DELETE_SESSIONS, (text_array([u for u, _ in deleted]), [s for _, s in deleted]))
            if upserts:
                cur.execute(sql.UPSERT_SESSIONS, array_params(upserts, (TEXT, BINARY, BINARY, NUMBER)))

    def all(self) -> list[Session]:
        c = sessions.c
        query = select(c.user_id, c.session_start, c.session_end, c.events).order_by(c.user_id, c.session_start)
        with translated_errors():
            return [Session._make(row) for row in self._conn.execute(query)]
