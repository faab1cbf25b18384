"""One contract for the event store; the in-memory fake and Postgres both pass it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.messages import LogPosition
from domain.users import user_activity
from tests.factories import T0, failed, make_event, money, received


class EventStoreContract:
    @pytest.fixture
    def start_uow(self):
        raise NotImplementedError  # each backend provides a factory of units of work

    def test_new_events_are_stored_and_returned(self, start_uow):
        a, b = received(make_event(), offset=0), received(make_event(), offset=1)
        with start_uow() as uow:
            assert uow.events.add_new([a, b]) == [a, b]
            uow.commit()
        with start_uow() as uow:
            assert uow.events.count() == 2

    def test_retried_event_is_stored_once(self, start_uow):
        event = received(make_event())
        with start_uow() as uow:
            uow.events.add_new([event])
            uow.commit()
        with start_uow() as uow:
            assert uow.events.add_new([event]) == []
            uow.commit()
            assert uow.events.count() == 1

    def test_first_occurrence_within_a_batch_wins(self, start_uow):
        event = make_event()
        first, again = received(event, offset=5), received(event, offset=9)
        with start_uow() as uow:
            assert uow.events.add_new([first, again]) == [first]

    def test_uncommitted_work_leaves_no_trace(self, start_uow):
        with start_uow() as uow:
            uow.events.add_new([received(make_event())])
            uow.dead_letters.add([failed()])
            uow.offsets.advance(LogPosition("c", "user-events", 0, 7))
        with start_uow() as uow:
            assert uow.events.count() == 0
            assert uow.dead_letters.count() == 0
            assert uow.offsets.committed("c", "user-events") == {}

    def test_rollback_discards_work_done_since_last_commit(self, start_uow):
        with start_uow() as uow:
            uow.events.add_new([received(make_event())])
            uow.commit()
            uow.events.add_new([received(make_event())])
            uow.rollback()
            assert uow.events.count() == 1

    def test_user_activity_adds_up_across_batches(self, start_uow):
        first = [
            make_event("page_view", timestamp=(T0 + timedelta(minutes=1)).isoformat()),
            make_event("purchase", value="10.50", timestamp=(T0 + timedelta(minutes=2)).isoformat()),
        ]
        later = [make_event("purchase", value="4.25", country="DE", timestamp=(T0 + timedelta(minutes=3)).isoformat())]
        for events in (first, later):
            with start_uow() as uow:
                uow.users.apply(user_activity(events).values())
                uow.commit()
        with start_uow() as uow:
            user = uow.users.get("user_1")
        assert user is not None
        assert (user.total_events, user.total_purchases, user.total_spent) == (3, 2, money("14.75"))
        assert user.first_seen == T0 + timedelta(minutes=1)
        assert user.last_seen == T0 + timedelta(minutes=3)
        assert user.country == "DE"

    def test_late_activity_keeps_country_of_the_latest_event(self, start_uow):
        recent = make_event(country="FR", timestamp=(T0 + timedelta(hours=2)).isoformat())
        old = make_event(country="JP", timestamp=T0.isoformat())
        for event in (recent, old):
            with start_uow() as uow:
                uow.users.apply(user_activity([event]).values())
                uow.commit()
        with start_uow() as uow:
            user = uow.users.get("user_1")
        assert (user.country, user.first_seen, user.last_seen) == ("FR", T0, T0 + timedelta(hours=2))

    def test_unknown_user_is_none(self, start_uow):
        with start_uow() as uow:
            assert uow.users.get("nobody") is None

    def test_dead_letter_for_the_same_log_position_is_stored_once(self, start_uow):
        with start_uow() as uow:
            assert uow.dead_letters.add([failed(offset=3)]) == 1
            uow.commit()
        with start_uow() as uow:
            assert uow.dead_letters.add([failed(offset=3), failed(offset=4)]) == 1
            uow.commit()
            assert uow.dead_letters.count() == 2

    def test_dead_letters_without_a_log_position_are_all_kept(self, start_uow):
        with start_uow() as uow:
            assert uow.dead_letters.add([failed(offset=None), failed(offset=None)]) == 2
            uow.commit()
            assert uow.dead_letters.count() == 2

    def test_latest_dead_letters_come_newest_first_with_their_reason(self, start_uow):
        with start_uow() as uow:
            uow.dead_letters.add([failed(offset=1, reason="first"), failed(offset=2, reason="second")])
            uow.commit()
            latest = uow.dead_letters.latest(1)
        assert [f.error_reason for f in latest] == ["second"]
        assert latest[0].source_offset == 2

    def test_offsets_are_kept_per_consumer_topic_and_partition(self, start_uow):
        with start_uow() as uow:
            uow.offsets.advance(LogPosition("a", "user-events", 0, 10))
            uow.offsets.advance(LogPosition("a", "user-events", 1, 20))
            uow.offsets.advance(LogPosition("b", "user-events", 0, 99))
            uow.offsets.advance(LogPosition("a", "user-events", 0, 15))
            uow.commit()
        with start_uow() as uow:
            assert uow.offsets.committed("a", "user-events") == {0: 15, 1: 20}
            assert uow.offsets.committed("b", "user-events") == {0: 99}
            assert uow.offsets.committed("a", "other") == {}


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def start_uow(self):
        state = InMemoryState()
        return lambda: InMemoryUnitOfWork(state)


@pytest.mark.integration
class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def start_uow(self, postgres_engine):
        return lambda: PostgresUnitOfWork(postgres_engine)
