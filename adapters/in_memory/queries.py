"""`InMemoryAnalyticsQueries`: the read side over `InMemoryState`, for API unit tests.

Same orderings, cursors, closed-window rule and rate as the Postgres adapter (the
contract in tests/contracts/test_query_contract.py holds both to it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from uuid import UUID

from adapters.in_memory.event_store import InMemoryState
from adapters.in_memory.projections import InMemoryDailyStats, InMemoryWindows
from application.messages import ReceivedEvent
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
    parse_event_cursor,
    parse_id_cursor,
)
from domain.failures import FailedEvent
from domain.windows import MINUTE, RATE_BUCKET, ROLLING_RATE_SPAN

_BREAKDOWNS = {"event_type": "by_event_type", "country": "by_country", "device": "by_device"}


class InMemoryAnalyticsQueries:
    """`AnalyticsQueries` over the fake store's committed state.

    What the state does not hold comes from the constructor: `anomalies`, `churn`
    (user id -> probability) and `progress` (committed consumer positions with their
    receive and commit times) are kept by reference, so a test may fill them later;
    `received_until` is the watermark (the newest receive time consumed), fixed or a
    callable read on each call; without it, the newest `received_until` in `progress`,
    as Postgres takes it from the committed positions. Events carry no anomaly score
    here (always None), and since the fake forgets when a dead letter was replayed, a
    replayed one reports its `failed_at` as `replayed_at` (so `replayed_at is not None`
    still means "replayed").
    """

    def __init__(
        self,
        state: InMemoryState,
        *,
        anomalies: list[AnomalyView] | None = None,
        churn: dict[str, float] | None = None,
        received_until: datetime | Callable[[], datetime | None] | None = None,
        progress: list[ConsumerProgressView] | None = None,
    ) -> None:
        self._state = state
        self._anomalies = anomalies if anomalies is not None else []
        self._churn = churn if churn is not None else {}
        self._received_until = received_until
        self._progress = progress if progress is not None else []

    def events(self, filters: EventFilter, limit: int, cursor: str | None) -> Page[EventView]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        after = parse_event_cursor(cursor) if cursor is not None else None
        matching = sorted(
            (r for r in self._state.events.values() if _matches(r, filters, after)),
            key=lambda r: (r.event_time, r.event.event_id),
            reverse=True,
        )
        items = [_event_view(r) for r in matching[:limit]]
        more = len(matching) > limit
        return Page(
            items=items,
            next_cursor=encode_cursor(items[-1].event_time.isoformat(), items[-1].event_id) if more else None,
        )

    def event(self, event_id: UUID) -> EventView | None:
        found = self._state.events.get(event_id)
        return _event_view(found) if found is not None else None

    def user(self, user_id: str) -> UserView | None:
        found = self._state.users.get(user_id)
        if found is None:
            return None
        return UserView(**found.model_dump(), churn_probability=self._churn.get(user_id))

    def daily_stats(
        self, start: date | None, end: date | None, event_type: str | None, country: str | None
    ) -> list[DailyStatsView]:
        return [
            DailyStatsView(**stats.model_dump())
            for stats in InMemoryDailyStats(self._state.projections).all()  # sorted by day, event type, country
            if (start is None or stats.day >= start)
            and (end is None or stats.day <= end)
            and (event_type is None or stats.event_type == event_type)
            and (country is None or stats.country == country)
        ]

    def realtime(self, windows: int, allowed_lateness_s: float) -> RealtimeView:
        watermark = self._watermark()
        if watermark is None:
            return RealtimeView(watermark=None, events_per_second=0.0, windows=[])
        lateness = timedelta(seconds=allowed_lateness_s)
        rows = InMemoryWindows(self._state.projections).minute_rows()
        # Closed: window_start + MINUTE + lateness <= watermark.
        closed = sorted({r[0] for r in rows if r[0] + MINUTE + lateness <= watermark}, reverse=True)
        latest = set(closed[: max(windows, 0)])
        rate_end = watermark - lateness
        counted = sum(
            n for start, n in self._state.projections.rates.items() if rate_end - ROLLING_RATE_SPAN <= start < rate_end
        )
        return RealtimeView(
            watermark=watermark,
            events_per_second=counted / ROLLING_RATE_SPAN.total_seconds(),
            windows=_windows_from_rows([r for r in rows if r[0] in latest]),
        )

    def throughput(self, minutes: int) -> list[RateBucketView]:
        watermark = self._watermark()
        if watermark is None:
            return []
        earliest = watermark - timedelta(minutes=max(minutes, 0)) - RATE_BUCKET
        seconds = RATE_BUCKET.total_seconds()
        return [
            RateBucketView(bucket_start=start, events=n, events_per_second=n / seconds)
            for start, n in sorted(self._state.projections.rates.items())
            if earliest < start <= watermark
        ]

    def consumer_progress(self) -> list[ConsumerProgressView]:
        return sorted(self._progress, key=lambda p: (p.topic, p.partition, p.consumer))

    def anomalies(self, since: datetime | None, min_score: float, limit: int) -> list[AnomalyView]:
        matching = [a for a in self._anomalies if a.score >= min_score and (since is None or a.detected_at >= since)]
        matching.sort(key=lambda a: (a.detected_at, a.event_id), reverse=True)
        return matching[: max(limit, 0)]

    def failed_events(self, error_type: str | None, limit: int, cursor: str | None) -> Page[FailedEventView]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        before = parse_id_cursor(cursor) if cursor is not None else None
        matching = sorted(
            (
                f for f in self._state.dead_letters
                if (error_type is None or f.error_type == error_type) and (before is None or f.id < before)
            ),
            key=lambda f: f.id,
            reverse=True,
        )  # fmt: skip
        items = [self._failed_view(f) for f in matching[:limit]]
        return Page(items=items, next_cursor=encode_cursor(items[-1].id) if len(matching) > limit else None)

    def ping(self) -> None:
        """Memory always answers."""

    def _watermark(self) -> datetime | None:
        if self._received_until is not None:
            return self._received_until() if callable(self._received_until) else self._received_until
        return max((p.received_until for p in self._progress if p.received_until is not None), default=None)

    def _failed_view(self, failure: FailedEvent) -> FailedEventView:
        replayed = failure.failed_at if failure.id in self._state.replayed else None
        fields = failure.model_dump(exclude={"id", "error_type"})
        return FailedEventView(**fields, id=failure.id, error_type=failure.error_type.value, replayed_at=replayed)


def _matches(received: ReceivedEvent, f: EventFilter, after: tuple[datetime, UUID] | None) -> bool:
    e, at = received.event, received.event_time
    return (
        (f.user_id is None or e.user_id == f.user_id)
        and (f.event_type is None or e.event_type == f.event_type)
        and (f.country is None or e.country == f.country)
        and (f.since is None or at >= f.since)
        and (f.until is None or at < f.until)
        and (after is None or (at, e.event_id) < after)
    )


def _event_view(received: ReceivedEvent) -> EventView:
    e = received.event
    return EventView(
        event_id=e.event_id, user_id=e.user_id, session_id=e.session_id, event_type=e.event_type.value,
        timestamp=e.timestamp, event_time=received.event_time, device=e.device.value, country=e.country,
        value=e.value, data=e.data_dict(), sent_at=e.sent_at, received_at=received.received_at,
        late=received.timing.late, anomaly_score=None,
    )  # fmt: skip


def _windows_from_rows(rows: list[tuple]) -> list[MinuteWindowView]:
    """Rows as `InMemoryWindows.minute_rows` gives them; one view per minute, newest first."""
    by_start: dict[datetime, dict] = {}
    for start, dimension, key, events, purchases, revenue, active in rows:
        view = by_start.setdefault(start, {k: {} for k in _BREAKDOWNS.values()})
        if dimension == "all":
            view.update(
                window_start=start, window_end=start + MINUTE, events=events,
                purchases=purchases, revenue=revenue, active_users=active,
            )  # fmt: skip
        elif dimension in _BREAKDOWNS:
            view[_BREAKDOWNS[dimension]][str(key)] = events
    return [MinuteWindowView(**by_start[start]) for start in sorted(by_start, reverse=True)]
