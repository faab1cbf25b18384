"""`PostgresAnalyticsQueries`: the read side (the API's questions) as SQLAlchemy Core selects.

Each call reads on its own short-lived pooled connection: reads never hold a
transaction open between API requests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from operator import eq, ge, le, lt
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, RowMapping, Select, func, select, tuple_

from adapters.postgres.engine import translated_errors
from adapters.postgres.tables import (
    anomalies,
    churn_scores,
    consumer_offsets,
    daily_stats,
    event_rate_buckets,
    events,
    failed_events,
    realtime_windows,
    users,
)
from application.ports.queries import EventFilter
from application.views import (
    AnomalyView,
    ConsumerProgressView,
    DailyStatsView,
    EventView,
    FailedEventView,
    MinuteWindowView,
    Page,
    RateBucketView,
    RealtimeView,
    UserView,
    encode_cursor,
    event_cursor,
    parse_event_cursor,
    parse_id_cursor,
)
from domain.windows import MINUTE, RATE_BUCKET, ROLLING_RATE_SPAN

_EVENT_COLUMNS = [c for c in events.c if c.name in EventView.model_fields]
_BREAKDOWNS = {"event_type": "by_event_type", "country": "by_country", "device": "by_device"}


class PostgresAnalyticsQueries:
    """`AnalyticsQueries` on the Postgres tables; keyset pages ride the events indexes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def events(self, filters: EventFilter, limit: int, cursor: str | None) -> Page[EventView]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        c = events.c
        query = select(*_EVENT_COLUMNS).order_by(c.event_time.desc(), c.event_id.desc()).limit(limit + 1)
        query = _where_given(
            query,
            (c.user_id, eq, filters.user_id),
            (c.event_type, eq, filters.event_type),
            (c.country, eq, filters.country),
            (c.event_time, ge, filters.since),
            (c.event_time, lt, filters.until),
        )
        if cursor is not None:
            # A row-value comparison: Postgres turns its leading column into an index bound.
            query = query.where(tuple_(c.event_time, c.event_id) < tuple_(*parse_event_cursor(cursor)))
        rows = self._all(query)
        items = [EventView.model_validate(dict(r)) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, next_cursor=event_cursor(items[-1]) if more else None)

    def event(self, event_id: UUID) -> EventView | None:
        rows = self._all(select(*_EVENT_COLUMNS).where(events.c.event_id == event_id))
        return EventView.model_validate(dict(rows[0])) if rows else None

    def user(self, user_id: str) -> UserView | None:
        query = (
            select(users, churn_scores.c.probability.label("churn_probability"))
            .select_from(users.outerjoin(churn_scores, churn_scores.c.user_id == users.c.user_id))
            .where(users.c.user_id == user_id)
        )
        rows = self._all(query)
        return UserView.model_validate(dict(rows[0])) if rows else None

    def daily_stats(
        self, start: date | None, end: date | None, event_type: str | None, country: str | None
    ) -> list[DailyStatsView]:
        c = daily_stats.c
        query = select(daily_stats).order_by(c.day, c.event_type, c.country)
        query = _where_given(
            query, (c.day, ge, start), (c.day, le, end), (c.event_type, eq, event_type), (c.country, eq, country)
        )
        return [DailyStatsView.model_validate(dict(r)) for r in self._all(query)]

    def realtime(self, windows: int, allowed_lateness_s: float) -> RealtimeView:
        w, lateness = realtime_windows.c, timedelta(seconds=allowed_lateness_s)
        with translated_errors(), self._engine.connect() as conn:
            watermark = conn.execute(select(func.max(consumer_offsets.c.received_until))).scalar_one()
            if watermark is None:
                return RealtimeView(watermark=None, events_per_second=0.0, windows=[])
            # Closed: window_start + MINUTE + lateness <= watermark.
            latest = (
                select(w.window_start)
                .where(w.dimension == "all", w.window_start <= watermark - MINUTE - lateness)
                .order_by(w.window_start.desc())
                .limit(max(windows, 0))
            )
            rows = conn.execute(select(realtime_windows).where(w.window_start.in_(latest.scalar_subquery())))
            views = _windows_from_rows(rows.mappings().all())
            b, rate_end = event_rate_buckets.c, watermark - lateness
            rated = select(func.coalesce(func.sum(b.events), 0)).where(
                b.bucket_start >= rate_end - ROLLING_RATE_SPAN, b.bucket_start < rate_end
            )
            counted = conn.execute(rated).scalar_one()
        return RealtimeView(
            watermark=watermark,
            events_per_second=float(counted) / ROLLING_RATE_SPAN.total_seconds(),
            windows=views,
        )

    def throughput(self, minutes: int) -> list[RateBucketView]:
        b, span = event_rate_buckets.c, timedelta(minutes=max(minutes, 0))
        watermark = select(func.max(consumer_offsets.c.received_until)).scalar_subquery()
        query = (
            select(b.bucket_start, b.events)
            .where(b.bucket_start > watermark - span - RATE_BUCKET, b.bucket_start <= watermark)
            .order_by(b.bucket_start)
        )
        seconds = RATE_BUCKET.total_seconds()
        return [RateBucketView(**r, events_per_second=r["events"] / seconds) for r in self._all(query)]

    def consumer_progress(self) -> list[ConsumerProgressView]:
        o = consumer_offsets.c
        query = select(consumer_offsets).order_by(o.topic, o.partition, o.consumer)
        return [ConsumerProgressView.model_validate(dict(r)) for r in self._all(query)]

    def anomalies(self, since: datetime | None, min_score: float, limit: int) -> list[AnomalyView]:
        a = anomalies.c
        query = select(anomalies).order_by(a.detected_at.desc(), a.event_id.desc()).limit(max(limit, 0))
        query = _where_given(query, (a.score, ge, min_score), (a.detected_at, ge, since))
        return [AnomalyView.model_validate(dict(r)) for r in self._all(query)]

    def failed_events(self, error_type: str | None, limit: int, cursor: str | None) -> Page[FailedEventView]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        f = failed_events.c
        query = select(failed_events).order_by(f.id.desc()).limit(limit + 1)
        query = _where_given(query, (f.error_type, eq, error_type))
        if cursor is not None:
            query = query.where(f.id < parse_id_cursor(cursor))
        rows = self._all(query)
        items = [FailedEventView.model_validate({**r, "failed_at": r["timestamp"]}) for r in rows[:limit]]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(rows) > limit else None)

    def ping(self) -> None:
        with translated_errors(), self._engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    def _all(self, query: Select) -> list[RowMapping]:
        with translated_errors(), self._engine.connect() as conn:
            return list(conn.execute(query).mappings())


def _where_given(query: Select, *tests: tuple[ColumnElement, Callable[..., Any], object]) -> Select:
    """Add `compare(column, value)` for each filter given (not None)."""
    for column, compare, value in tests:
        if value is not None:
            query = query.where(compare(column, value))
    return query


def _windows_from_rows(rows: list[RowMapping]) -> list[MinuteWindowView]:
    """One view per window_start, newest first: totals from the 'all' row, events per key."""
    by_start: dict[datetime, dict] = {}
    for r in rows:
        view = by_start.setdefault(r["window_start"], {k: {} for k in _BREAKDOWNS.values()})
        if r["dimension"] == "all":
            view.update(
                window_start=r["window_start"],
                window_end=r["window_start"] + MINUTE,
                events=r["events"],
                purchases=r["purchases"],
                revenue=r["revenue"],
                active_users=r["active_users"],
            )
        elif r["dimension"] in _BREAKDOWNS:
            view[_BREAKDOWNS[r["dimension"]]][r["key"]] = r["events"]
    return [MinuteWindowView(**by_start[start]) for start in sorted(by_start, reverse=True)]
