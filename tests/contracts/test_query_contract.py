"""The read side's contract (`AnalyticsQueries`): data arranged through the write side."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import insert

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.in_memory.queries import InMemoryAnalyticsQueries
from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.queries import PostgresAnalyticsQueries
from adapters.postgres.tables import anomalies, churn_scores, consumer_offsets
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.ingest import Recorder
from application.ports.queries import EventFilter
from application.views import AnomalyView, ConsumerProgressView, InvalidCursor, encode_cursor
from domain.errors import StorageUnavailable
from domain.failures import ErrorType
from tests.factories import T0, batch, failed, make_event, received

MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)
_offsets = iter(range(10**9))


def at(moment: datetime, **fields):
    """An on-time stored event whose event time is `moment`."""
    return received(make_event(fields.pop("event_type", "page_view"), timestamp=moment.isoformat(), **fields))


def progress(partition: int, received_until: datetime | None, **fields) -> ConsumerProgressView:
    """A committed position (consumer `c` on topic `t` unless said otherwise)."""
    defaults = {"consumer": "c", "topic": "t", "next_offset": 1, "updated_at": T0 + 2 * SEC}
    return ConsumerProgressView(**{**defaults, **fields}, partition=partition, received_until=received_until)


def ids(items) -> list[UUID]:
    return [item.event_id for item in items]


def walk(fetch, limit: int) -> list[list]:
    """Every page, following cursors until the last."""
    pages, cursor = [], None
    while True:
        page = fetch(limit, cursor)
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


class AnalyticsQueriesContract:
    @pytest.fixture
    def start_uow(self):
        raise NotImplementedError

    @pytest.fixture
    def queries(self, start_uow):
        raise NotImplementedError

    def arrange_anomalies(self, found: list[AnomalyView]) -> None:
        raise NotImplementedError

    def arrange_churn(self, churn: dict[str, float]) -> None:
        raise NotImplementedError

    def arrange_progress(self, positions: list[ConsumerProgressView]) -> None:
        raise NotImplementedError

    def arrange_watermark(self, received_until: datetime) -> None:
        # Three partitions: the watermark is the newest receive time of any.
        self.arrange_progress([progress(1, received_until - MIN), progress(2, received_until), progress(3, None)])

    def record(self, start_uow, events=(), failures=()) -> None:
        for stored in events:  # one batch each, in the order given
            Recorder(start_uow, "test")(batch([stored], next_offset=next(_offsets)), now=T0)
        for failure in failures:
            offset = next(_offsets)
            Recorder(start_uow, "test")(batch([], [failure.model_copy(update={"source_offset": offset})]), now=T0)

    def test_events_are_newest_first_under_each_filter_and_all_combined(self, start_uow, queries):
        a = at(T0, user_id="u1")
        b = at(T0 + MIN, user_id="u2", event_type="purchase", country="DE")
        c = at(T0 + 2 * MIN, user_id="u1", event_type="purchase")
        d = at(T0 + 3 * MIN, user_id="u1", event_type="click", country="FR")
        e = at(T0 + 4 * MIN, user_id="u2")
        self.record(start_uow, [c, a, e, b, d])

        def found(**filters):
            return ids(queries.events(EventFilter(**filters), 10, None).items)

        assert found() == ids(r.event for r in [e, d, c, b, a])
        assert found(user_id="u1") == ids(r.event for r in [d, c, a])
        assert found(event_type="purchase") == ids(r.event for r in [c, b])
        assert found(country="US") == ids(r.event for r in [e, c, a])
        assert found(since=T0 + MIN, until=T0 + 3 * MIN) == ids(r.event for r in [c, b])
        assert found(user_id="u1", event_type="purchase", country="US", since=T0 + MIN) == [c.event.event_id]
        assert found(user_id="nobody") == []

    def test_pages_walk_every_event_once_with_ties_broken_by_event_id(self, start_uow, queries):
        tied = [at(T0 + MIN, event_id=f"{lead}0000000-0000-4000-8000-000000000000") for lead in "3c7"]
        newest, oldest = at(T0 + 2 * MIN, user_id="u2"), at(T0, user_id="u2")
        self.record(start_uow, [tied[0], oldest, tied[1], newest, tied[2]])
        pages = walk(lambda limit, cursor: queries.events(EventFilter(), limit, cursor), 2)
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [i for p in pages for i in ids(p)] == ids(r.event for r in [newest, tied[1], tied[2], tied[0], oldest])
        by_user = walk(lambda limit, cursor: queries.events(EventFilter(user_id="u2"), limit, cursor), 1)
        assert [ids(p) for p in by_user] == [[newest.event.event_id], [oldest.event.event_id]]

    def test_a_full_last_page_has_no_next_cursor(self, start_uow, queries):
        self.record(start_uow, [at(T0), at(T0 + MIN)], [failed(), failed()])
        assert queries.events(EventFilter(), 2, None).next_cursor is None
        assert queries.events(EventFilter(), 1, None).next_cursor is not None
        assert queries.failed_events(None, 2, None).next_cursor is None
        assert queries.failed_events(None, 1, None).next_cursor is not None

    @pytest.mark.parametrize(
        "cursor",
        [
            "%%%",
            encode_cursor("only-one"),
            encode_cursor("yesterday", UUID(int=1)),
            encode_cursor(T0.isoformat(), "not-a-uuid"),
            encode_cursor(T0.replace(tzinfo=None).isoformat(), UUID(int=1)),
        ],
        ids=["not-base64", "one-value", "bad-time", "bad-uuid", "naive-time"],
    )
    def test_cursors_this_api_did_not_issue_are_refused(self, queries, cursor):
        with pytest.raises(InvalidCursor):
            queries.events(EventFilter(), 2, cursor)

    @pytest.mark.parametrize(
        "cursor", ["%%%", encode_cursor("ten"), encode_cursor(1, 2)], ids=["not-base64", "bad-id", "two-values"]
    )
    def test_failed_event_cursors_this_api_did_not_issue_are_refused(self, queries, cursor):
        with pytest.raises(InvalidCursor):
            queries.failed_events(None, 2, cursor)

    def test_an_event_is_found_by_id_with_no_anomaly_score_yet(self, start_uow, queries):
        purchase = at(T0, event_type="purchase", value="19.99")
        late = received(make_event(timestamp=T0.isoformat()), received_at=T0 + 10 * MIN)
        self.record(start_uow, [purchase, late])
        view = queries.event(purchase.event.event_id)
        assert (view.event_type, view.value, view.event_time, view.late, view.anomaly_score) == (
            "purchase", Decimal("19.99"), T0, False, None,
        )  # fmt: skip
        assert view.data == {"product_id": "p1", "quantity": 1, "currency": "USD"}
        assert (view.device, view.country, view.received_at, view.sent_at) == ("mobile", "US", T0, None)
        assert queries.event(late.event.event_id).late is True
        assert queries.event(UUID(int=404)) is None

    def test_users_come_with_their_churn_probability_when_scored(self, start_uow, queries):
        self.record(start_uow, [at(T0, user_id="u1", event_type="purchase", value="5.00"), at(T0, user_id="u2")])
        self.arrange_churn({"u1": 0.8})
        scored, unscored = queries.user("u1"), queries.user("u2")
        assert (scored.churn_probability, scored.total_events, scored.total_purchases) == (0.8, 1, 1)
        assert (scored.total_spent, scored.first_seen, scored.country) == (Decimal("5.00"), T0, "US")
        assert unscored.churn_probability is None and unscored.user_id == "u2"
        assert queries.user("nobody") is None

    def test_daily_stats_filter_by_an_inclusive_day_range_type_and_country(self, start_uow, queries):
        day = timedelta(days=1)
        self.record(
            start_uow,
            [at(T0, event_type="purchase", value="2.50"), at(T0, event_type="purchase", value="1.00", user_id="u2")]
            + [at(T0, country="DE"), at(T0 + day), at(T0 + 2 * day, event_type="click")],
        )
        d1, d2, d3 = ((T0 + n * day).date() for n in range(3))
        rows = queries.daily_stats(None, None, None, None)
        assert [(r.day, r.event_type, r.country) for r in rows] == [
            (d1, "page_view", "DE"), (d1, "purchase", "US"), (d2, "page_view", "US"), (d3, "click", "US"),
        ]  # fmt: skip
        assert (rows[1].events, rows[1].unique_users, rows[1].purchases, rows[1].revenue) == (2, 2, 2, Decimal("3.50"))
        assert [r.day for r in queries.daily_stats(d2, d2, None, None)] == [d2]
        assert [r.day for r in queries.daily_stats(d2, None, None, None)] == [d2, d3]
        assert [r.day for r in queries.daily_stats(None, d1, None, None)] == [d1, d1]
        assert [r.day for r in queries.daily_stats(None, None, "click", None)] == [d3]
        assert [r.event_type for r in queries.daily_stats(d1, d3, None, "DE")] == ["page_view"]

    def test_realtime_shows_only_closed_windows_newest_first(self, start_uow, queries):
        self.record(
            start_uow,
            [at(T0 - 10 * MIN), at(T0 - 2 * MIN), at(T0, user_id="u1")]
            + [at(T0 + MIN, user_id="u1", event_type="purchase", value="10.00")]
            + [at(T0 + MIN + timedelta(seconds=5), user_id="u2", country="DE", device="desktop")]
            + [at(T0 + MIN + timedelta(seconds=50), user_id="u1", event_type="click", device="desktop")]
            + [at(T0 + 2 * MIN, user_id="u3", country="FR", device="tablet"), at(T0 + 3 * MIN)],
        )
        watermark = T0 + 3 * MIN + timedelta(seconds=30)  # closes T0 + 2 min exactly, not T0 + 3 min
        self.arrange_watermark(watermark)
        view = queries.realtime(2, 30)
        assert view.watermark == watermark
        assert [w.window_start for w in view.windows] == [T0 + 2 * MIN, T0 + MIN]
        busy = view.windows[1]
        assert (busy.window_end, busy.events, busy.purchases, busy.revenue, busy.active_users) == (
            T0 + 2 * MIN, 3, 1, Decimal("10.00"), 2,
        )  # fmt: skip
        assert busy.by_event_type == {"purchase": 1, "page_view": 1, "click": 1}
        assert (busy.by_country, busy.by_device) == ({"US": 2, "DE": 1}, {"mobile": 1, "desktop": 2})
        # Rate buckets in [T0 - 2 min, T0 + 3 min): all but the oldest and the newest event.
        assert view.events_per_second == pytest.approx(6 / 300)
        starts = [w.window_start for w in queries.realtime(10, 90).windows]
        assert starts == [T0 + MIN, T0, T0 - 2 * MIN, T0 - 10 * MIN]

    def test_realtime_without_a_watermark_is_empty(self, start_uow, queries):
        self.record(start_uow, [at(T0)])
        assert queries.realtime(5, 0).model_dump() == {"watermark": None, "events_per_second": 0.0, "windows": []}

    def test_throughput_is_the_rate_buckets_overlapping_the_last_minutes_before_the_watermark(self, start_uow, queries):
        watermark = T0 + 12 * SEC  # the last 5 minutes start at T0 - 4:48
        self.record(
            start_uow,
            [at(T0 - 4 * MIN - 51 * SEC), at(T0 - 4 * MIN - 50 * SEC), at(T0 - 4 * MIN + 5 * SEC)]
            + [at(T0 - 4 * MIN + 7 * SEC, event_type="purchase", value="3.00"), at(T0 - MIN), at(T0)]
            + [at(T0 + 15 * SEC), at(T0 + 20 * SEC)]
            + [received(make_event(timestamp=(T0 - MIN).isoformat()), received_at=T0 + 10 * MIN)],  # late
        )
        self.arrange_watermark(watermark)
        buckets = queries.throughput(5)
        assert [(b.bucket_start, b.events) for b in buckets] == [
            (T0 - 4 * MIN - 50 * SEC, 1), (T0 - 4 * MIN, 2), (T0 - MIN, 1), (T0, 1), (T0 + 10 * SEC, 1),
        ]  # fmt: skip
        assert [b.events_per_second for b in buckets] == [0.1, 0.2, 0.1, 0.1, 0.1]
        assert [b.bucket_start for b in queries.throughput(0)] == [T0 + 10 * SEC]

    def test_throughput_without_a_watermark_is_empty(self, start_uow, queries):
        self.record(start_uow, [at(T0)])
        assert queries.throughput(5) == []

    def test_consumer_progress_lists_every_position_by_topic_partition_and_consumer(self, queries):
        positions = [
            progress(2, T0, topic="b", next_offset=40, updated_at=T0 + SEC),
            progress(1, T0 - MIN, topic="b", consumer="old", next_offset=7),
            progress(0, None, topic="b", next_offset=0),
            progress(1, T0, topic="b", consumer="new", next_offset=12, updated_at=T0 + 3 * SEC),
            progress(0, T0, topic="a", next_offset=5),
        ]
        self.arrange_progress(positions)
        assert queries.consumer_progress() == [positions[i] for i in (4, 2, 3, 1, 0)]
        assert queries.realtime(1, 0).watermark == T0  # the newest receive time of any position

    def test_without_committed_positions_there_is_no_progress(self, queries):
        assert queries.consumer_progress() == []

    def test_anomalies_are_newest_first_above_a_score_since_a_time(self, queries):
        found = [
            AnomalyView(
                event_id=UUID(int=n), user_id="u1", score=s, reasons=r, detected_at=T0 + n * MIN, model_version=v
            )
            for n, s, r, v in [(0, 0.9, ["burst"], "m1"), (1, 0.5, [], None), (2, 0.95, ["value", "burst"], "m1")]
        ]
        self.arrange_anomalies(found)
        assert queries.anomalies(None, 0.0, 10) == found[::-1]
        assert queries.anomalies(None, 0.9, 10) == [found[2], found[0]]
        assert queries.anomalies(T0 + MIN, 0.0, 10) == [found[2], found[1]]
        assert queries.anomalies(None, 0.0, 1) == [found[2]]

    def test_failed_events_are_newest_first_page_by_page_and_by_error_type(self, start_uow, queries):
        kinds = [ErrorType.SCHEMA, ErrorType.SIZE, ErrorType.SCHEMA, ErrorType.DESERIALIZE, ErrorType.SCHEMA]
        failures = [failed(reason=f"r{n}").model_copy(update={"error_type": k}) for n, k in enumerate(kinds)]
        self.record(start_uow, failures=failures)
        pages = walk(lambda limit, cursor: queries.failed_events(None, limit, cursor), 2)
        assert [[f.error_reason for f in p] for p in pages] == [["r4", "r3"], ["r2", "r1"], ["r0"]]
        every = [f for p in pages for f in p]
        assert [f.id for f in every] == sorted((f.id for f in every), reverse=True)
        with start_uow() as uow:
            uow.dead_letters.mark_replayed([every[-1].id], T0 + MIN)
            uow.commit()
        schema = walk(lambda limit, cursor: queries.failed_events("schema", limit, cursor), 2)
        assert [[f.error_reason for f in p] for p in schema] == [["r4", "r2"], ["r0"]]
        oldest = schema[-1][0]
        assert (oldest.error_type, oldest.raw_data, oldest.failed_at, oldest.source_topic) == (
            "schema", '{"oops": true}', T0, "user-events",
        )  # fmt: skip
        assert [f.replayed_at is not None for f in queries.failed_events(None, 5, None).items] == [False] * 4 + [True]

    def test_ping_answers(self, queries):
        assert queries.ping() is None


class TestInMemoryQueries(AnalyticsQueriesContract):
    @pytest.fixture
    def start_uow(self):
        self.state = InMemoryState()
        return lambda: InMemoryUnitOfWork(self.state)

    @pytest.fixture
    def queries(self, start_uow):
        self.found, self.churn, self.progress = [], {}, []
        return InMemoryAnalyticsQueries(self.state, anomalies=self.found, churn=self.churn, progress=self.progress)

    def arrange_anomalies(self, found):
        self.found.extend(found)

    def arrange_churn(self, churn):
        self.churn.update(churn)

    def arrange_progress(self, positions):
        self.progress.extend(positions)


@pytest.mark.integration
class TestPostgresQueries(AnalyticsQueriesContract):
    @pytest.fixture
    def start_uow(self, postgres_engine):
        self.engine = postgres_engine
        return lambda: PostgresUnitOfWork(postgres_engine)

    @pytest.fixture
    def queries(self, start_uow):
        return PostgresAnalyticsQueries(self.engine)

    def arrange_anomalies(self, found):
        with self.engine.begin() as conn:
            conn.execute(insert(anomalies), [a.model_dump() for a in found])

    def arrange_churn(self, churn):
        rows = [{"user_id": u, "probability": p, "model_version": "test", "scored_at": T0} for u, p in churn.items()]
        with self.engine.begin() as conn:
            conn.execute(insert(churn_scores), rows)

    def arrange_progress(self, positions):
        with self.engine.begin() as conn:
            conn.execute(insert(consumer_offsets), [p.model_dump() for p in positions])

    def test_an_unreachable_database_is_reported_as_unavailable(self):
        engine = create_postgres_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1)
        try:
            with pytest.raises(StorageUnavailable):
                PostgresAnalyticsQueries(engine).ping()
        finally:
            engine.dispose()
