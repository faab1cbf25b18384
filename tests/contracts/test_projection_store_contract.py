"""The projection repositories' contract (daily stats, windows, sessions, replay reads)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from domain.sessions import Session
from domain.users import user_activity
from domain.windows import daily_totals, daily_users, minute_users, minute_windows, rate_buckets
from tests.factories import T0, failed, make_event, received


def _timed(*events):
    return [(e, e.timestamp) for e in events]


class ProjectionStoreContract:
    @pytest.fixture
    def start_uow(self):
        raise NotImplementedError

    def test_daily_totals_add_up_and_unique_users_count_each_user_once(self, start_uow):
        first = _timed(make_event("purchase", value="10.00"), make_event("page_view"))
        again = _timed(make_event("purchase", value="2.50"), make_event("purchase", value="1.00", user_id="user_2"))
        for timed in (first, again):
            with start_uow() as uow:
                uow.daily_stats.add(daily_totals(timed), daily_users(timed))
                uow.commit()
        with start_uow() as uow:
            rows = {(s.event_type, s.country): s for s in uow.daily_stats.all()}
        purchases = rows[("purchase", "US")]
        assert (purchases.events, purchases.purchases, purchases.revenue, purchases.unique_users) == (
            3,
            3,
            Decimal("13.50"),
            2,
        )
        assert rows[("page_view", "US")].unique_users == 1

    def test_minute_windows_add_up_with_exact_active_users(self, start_uow):
        at = T0.isoformat()  # one minute for all: the factory's default times may cross a minute
        batches = [
            _timed(
                make_event(user_id="a", timestamp=at), make_event("purchase", user_id="b", value="5.00", timestamp=at)
            ),
            _timed(make_event(user_id="a", device="desktop", timestamp=at)),
        ]
        for timed in batches:
            with start_uow() as uow:
                uow.windows.add(minute_windows(timed), minute_users(timed), rate_buckets(timed))
                uow.commit()
        with start_uow() as uow:
            rows = uow.windows.minute_rows()
            rates = uow.windows.rate_rows()
        [total] = [r for r in rows if r[1] == "all"]
        assert total[3:] == (3, 1, Decimal("5.00"), 2)
        assert {(r[2], r[3]) for r in rows if r[1] == "device"} == {("mobile", 2), ("desktop", 1)}
        assert all(r[6] == 0 for r in rows if r[1] != "all")
        assert sum(count for _, count in rates) == 3

    def test_sessions_near_a_span_are_found_and_changes_apply(self, start_uow):
        early = Session(user_id="a", start=T0, end=T0 + timedelta(minutes=5), events=3)
        late = Session(user_id="a", start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=3), events=1)
        other = Session(user_id="b", start=T0, end=T0, events=1)
        with start_uow() as uow:
            uow.sessions.apply([early, late, other], [])
            uow.commit()
        with start_uow() as uow:
            near = uow.sessions.near({"a": (T0 + timedelta(minutes=4), T0 + timedelta(minutes=40))})
            assert near == {"a": [early]}
            merged = Session(user_id="a", start=T0 - timedelta(minutes=1), end=T0 + timedelta(minutes=5), events=4)
            uow.sessions.apply([merged], [("a", T0)])
            uow.commit()
        with start_uow() as uow:
            assert uow.sessions.all() == [merged, late, other]

    def test_user_ids_any_client_may_send_pass_through_every_merge_unchanged(self, start_uow):
        # Quotes, backslashes, braces, commas, blanks and the word NULL mean something inside an
        # array literal; a user id is any 1-50 characters, so each must come back as sent.
        odd = ['say "hi"', "back\\slash", "{braces}", "com,ma", " padded ", "NULL", "ünïcödé", "'; DROP TABLE users;--"]
        events = [make_event(user_id=user, timestamp=T0.isoformat()) for user in odd]
        timed = _timed(*events)
        with start_uow() as uow:
            assert set(uow.users.apply(user_activity(events).values())) == set(odd)
            uow.daily_stats.add(daily_totals(timed), daily_users(timed))
            uow.windows.add(minute_windows(timed), minute_users(timed), rate_buckets(timed))
            uow.sessions.apply([Session(user, T0, T0, 1) for user in odd], [])
            uow.commit()
        with start_uow() as uow:
            assert set(uow.users.get_many(odd)) == set(odd) and None not in uow.users.get_many(odd).values()
            assert set(uow.sessions.near({user: (T0, T0) for user in odd})) == set(odd)
            assert [s.unique_users for s in uow.daily_stats.all()] == [len(odd)]
            [total] = [r for r in uow.windows.minute_rows() if r[1] == "all"]
            assert total[6] == len(odd)
            uow.sessions.apply([], [(user, T0) for user in odd])
            uow.commit()
        with start_uow() as uow:
            assert uow.sessions.all() == []

    def test_users_are_fetched_many_at_once_with_none_for_strangers(self, start_uow):
        with start_uow() as uow:
            uow.users.apply(user_activity([make_event(user_id="known")]).values())
            uow.commit()
        with start_uow() as uow:
            users = uow.users.get_many(["known", "stranger"])
        assert users["stranger"] is None and users["known"].total_events == 1

    def test_events_read_back_in_log_order_page_by_page(self, start_uow):
        stored = [received(make_event(), partition=p, offset=o) for p, o in [(1, 0), (0, 5), (0, 2), (1, 1)]]
        with start_uow() as uow:
            uow.events.add_new(stored)
            uow.commit()
        with start_uow() as uow:
            first, rest = list(uow.events.in_log_order(3))
        assert [len(first), len(rest)] == [3, 1]
        assert [(r.partition, r.offset) for r in first + rest] == [(0, 2), (0, 5), (1, 0), (1, 1)]
        assert first[0].event == stored[2].event and first[0].timing == stored[2].timing

    def test_clearing_projections_keeps_the_event_log(self, start_uow):
        event = make_event()
        timed = _timed(event)
        with start_uow() as uow:
            uow.events.add_new([received(event)])
            uow.users.apply(user_activity([event]).values())
            uow.daily_stats.add(daily_totals(timed), daily_users(timed))
            uow.windows.add(minute_windows(timed), minute_users(timed), rate_buckets(timed))
            uow.sessions.apply([Session(user_id="user_1", start=T0, end=T0, events=1)], [])
            uow.commit()
        with start_uow() as uow:
            uow.clear_projections()
            uow.commit()
        with start_uow() as uow:
            assert uow.events.count() == 1
            assert (uow.users.count(), uow.daily_stats.all(), uow.windows.minute_rows(), uow.sessions.all()) == (
                0,
                [],
                [],
                [],
            )

    def test_dead_letters_replay_once(self, start_uow):
        with start_uow() as uow:
            uow.dead_letters.add([failed(offset=1), failed(offset=2)])
            uow.commit()
        with start_uow() as uow:
            pending = uow.dead_letters.pending_replay("schema", 10)
            assert [f.source_offset for f in pending] == [1, 2] and all(f.id for f in pending)
            assert uow.dead_letters.pending_replay("size", 10) == []
            uow.dead_letters.mark_replayed([pending[0].id], T0)
            uow.commit()
        with start_uow() as uow:
            assert [f.source_offset for f in uow.dead_letters.pending_replay(None, 10)] == [2]


class TestInMemoryProjectionStore(ProjectionStoreContract):
    @pytest.fixture
    def start_uow(self):
        state = InMemoryState()
        return lambda: InMemoryUnitOfWork(state)


@pytest.mark.integration
class TestPostgresProjectionStore(ProjectionStoreContract):
    @pytest.fixture
    def start_uow(self, postgres_engine):
        return lambda: PostgresUnitOfWork(postgres_engine)
