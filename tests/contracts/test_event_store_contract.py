"""One contract for the event store; the in-memory fake and Postgres both pass it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.messages import Anomaly, LogPosition
from domain.errors import AlreadyStored
from domain.events import Device, EventType, PastEvent
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

    def test_merging_activity_returns_each_users_counts_after_it(self, start_uow):
        # With the activity merged, these tell what the user had done before it (first visit, first purchase).
        with start_uow() as uow:
            first = user_activity([make_event("purchase", value="1.00"), make_event()])
            assert uow.users.apply(first.values()) == {"user_1": (2, 1)}
            assert uow.users.apply(user_activity([make_event(user_id="user_2")]).values()) == {"user_2": (1, 0)}
            uow.commit()
        with start_uow() as uow:
            assert uow.users.apply(user_activity([make_event()]).values()) == {"user_1": (3, 1)}
            assert uow.users.apply([]) == {}

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

    def test_an_item_of_a_request_retried_with_its_idempotency_key_is_stored_once(self, start_uow):
        def posted(key: str, index: int):
            return failed(offset=None).model_copy(update={"request_key": key, "request_index": index})

        with start_uow() as uow:
            assert uow.dead_letters.add([posted("k-1", 0), posted("k-1", 2)]) == 2
            uow.commit()
        with start_uow() as uow:  # the retry; another request's item 0 is new
            assert uow.dead_letters.add([posted("k-1", 0), posted("k-1", 2), posted("k-2", 0)]) == 1
            uow.commit()
            assert uow.dead_letters.count() == 3
            assert {(f.request_key, f.request_index) for f in uow.dead_letters.latest(10)} == {
                ("k-1", 0),
                ("k-1", 2),
                ("k-2", 0),
            }

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

    # --- what scoring needs ----------------------------------------------------------------

    def test_unseen_keeps_first_occurrences_of_ids_not_stored(self, start_uow):
        stored, fresh = received(make_event(), offset=0), make_event()
        with start_uow() as uow:
            uow.events.add_new([stored])
            uow.commit()
        first, again = received(fresh, offset=1), received(fresh, offset=2)
        with start_uow() as uow:
            assert uow.events.unseen([stored, first, again]) == [first]
            assert uow.events.unseen([]) == []

    def test_scores_are_stored_with_their_events(self, start_uow):
        scored, unscored = received(make_event(), offset=0), received(make_event(), offset=1)
        with start_uow() as uow:
            uow.events.add_new([scored, unscored], [0.875, None])
            uow.commit()
        with start_uow() as uow:
            assert uow.events.anomaly_score(scored.event.event_id) == 0.875
            assert uow.events.anomaly_score(unscored.event.event_id) is None

    def test_a_repeated_id_is_stored_once_with_the_score_of_its_first_occurrence(self, start_uow):
        event = make_event()
        first, again, other = received(event, offset=0), received(event, offset=1), received(make_event(), offset=2)
        with start_uow() as uow:
            assert uow.events.add_new([first, again, other], [0.25, 0.75, 0.5]) == [first, other]
            uow.commit()
        with start_uow() as uow:
            assert uow.events.anomaly_score(event.event_id) == 0.25
            assert uow.events.anomaly_score(other.event.event_id) == 0.5

    def test_all_new_events_are_stored_as_sent_with_their_scores(self, start_uow):
        events = [
            make_event("purchase", user_id="ann", value="10.50"),
            make_event("search", user_id="ann", data={"query": 'naïve "quoted" \\ ✓ 日本', "results_count": 0}),
            make_event("page_view", user_id="ann", data={"page": "/a", "referrer": None}),  # a null the client sent
        ]
        given = [received(e, offset=i) for i, e in enumerate(events)]
        with start_uow() as uow:
            uow.events.add_all_new(given, [0.5, None, None])
            uow.events.add_all_new([])
            uow.commit()
        with start_uow() as uow:
            assert uow.events.count() == 3
            assert uow.events.anomaly_score(events[0].event_id) == 0.5
            assert uow.events.anomaly_score(events[1].event_id) is None
            stored = {r.event.event_id: r.event for page in uow.events.in_log_order(10) for r in page}
        assert [stored[e.event_id] for e in events] == events  # data and all, as validated
        assert stored[events[2].event_id].data_dict() == {"page": "/a", "referrer": None}

    def test_all_new_refuses_a_batch_with_a_stored_or_repeated_id_and_stores_none_of_it(self, start_uow):
        stored, fresh = received(make_event(), offset=0), received(make_event(), offset=1)
        with start_uow() as uow:
            uow.events.add_new([stored])
            uow.commit()
        for batch in ([fresh, stored], [fresh, received(fresh.event, offset=2)]):
            with pytest.raises(AlreadyStored), start_uow() as uow:
                uow.events.add_all_new(batch)
            with start_uow() as uow:
                assert uow.events.count() == 1
                assert uow.events.unseen([fresh]) == [fresh]

    def test_recent_by_user_gives_each_users_latest_events_in_the_order_stored(self, start_uow):
        def at(minutes: int, user: str = "ann", **fields):
            return make_event(user_id=user, timestamp=(T0 + timedelta(minutes=minutes)).isoformat(), **fields)

        ann = [at(3), at(1), at(2, country="DE"), at(4), at(0)]  # stored out of event-time order
        bob = [at(5, "bob")]
        with start_uow() as uow:
            uow.events.add_new([received(e, offset=10 + i) for i, e in enumerate([*ann[:4], *bob, at(9, "cyd")])])
            uow.commit()
        with start_uow() as uow:  # later, from a lower offset (another topic): still stored after the rest
            uow.events.add_new([received(ann[4], offset=0, topic="user-events-v2")])
            uow.commit()
        with start_uow() as uow:
            recent = uow.events.recent_by_user(["ann", "bob", "nobody"], 3)
            assert [e.event_id for e, _ in uow.events.recent_by_user(["ann"], 5)["ann"]] == [e.event_id for e in ann]
        assert set(recent) == {"ann", "bob"}
        # The latest three by event time (minutes 2, 3, 4), as a scorer saw them: 3, 2, 4.
        assert [e.event_id for e, _ in recent["ann"]] == [ann[0].event_id, ann[2].event_id, ann[3].event_id]
        assert [t for _, t in recent["ann"]] == [T0 + timedelta(minutes=m) for m in (3, 2, 4)]
        assert recent["ann"][1][0] == PastEvent.of(ann[2])  # what a feature state is rebuilt from
        assert [e for e, _ in recent["bob"]] == [PastEvent.of(e) for e in bob]
        past = recent["ann"][0][0]
        assert type(past.event_type) is EventType and type(past.device) is Device  # members, as a live event's are

    def test_anomalies_are_stored_once(self, start_uow):
        event = received(make_event())
        anomaly = Anomaly(event, 0.93, ("purchase 38x this user's median", 'a "quoted" \\ reason'), T0, "if-1", {})
        with start_uow() as uow:
            uow.events.add_new([event])
            assert uow.anomalies.add([anomaly]) == 1
            uow.commit()
        with start_uow() as uow:
            assert uow.anomalies.add([anomaly]) == 0
            assert uow.anomalies.add([]) == 0
            assert uow.anomalies.count() == 1

    def test_detector_states_are_saved_per_detector_and_partition(self, start_uow):
        with start_uow() as uow:
            assert uow.detector_states.load("hst", 0) is None
            uow.detector_states.save("hst", 0, b"\x00first", 10)
            uow.detector_states.save("hst", 1, b"other", 5)
            uow.commit()
        with start_uow() as uow:
            uow.detector_states.save("hst", 0, b"\x00second", 20)
            uow.commit()
        with start_uow() as uow:
            assert uow.detector_states.load("hst", 0) == b"\x00second"
            assert uow.detector_states.load("hst", 1) == b"other"
            uow.detector_states.save("hst", 1, b"rolled back", 6)
        with start_uow() as uow:
            assert uow.detector_states.load("hst", 1) == b"other"


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
