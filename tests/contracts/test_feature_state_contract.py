"""One contract for users' saved feature states; the in-memory fake and Postgres both pass it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.ports.event_store import SavedFeatureStates, StaleFeatureState
from domain.events import PastEvent
from domain.features import UserFeatureState, extract
from domain.users import user_activity
from tests.factories import T0, make_event, received


def _events(user_id: str, count: int, first_second: int = 0):
    kinds = ["page_view", "purchase", "click", "login"]
    return [
        make_event(
            kinds[i % 4],
            user_id=user_id,
            country=["US", "FR"][i % 2],
            device=["mobile", "desktop", "tablet"][i % 3],
            timestamp=(T0 + timedelta(seconds=first_second + 7 * i)).isoformat(),
        )
        for i in range(count)
    ]


def _state(events) -> UserFeatureState:
    _, states = extract((e, e.timestamp) for e in events)
    (state,) = states.values()
    return state


def _since(events) -> list:
    return [(PastEvent.of(e), e.timestamp) for e in events]


class FeatureStateContract:
    @pytest.fixture
    def start_uow(self):
        raise NotImplementedError  # each backend provides a factory of units of work

    def _count(self, start_uow, events) -> None:
        """Store `events`' counts in the users projection, as a recorded batch does."""
        with start_uow() as uow:
            uow.users.apply(user_activity(events).values())
            uow.commit()

    def _record(self, start_uow, events, *, save: list | None = None) -> None:
        """Store `events` and their counts in one unit of work, then `save` (rows), as a batch does."""
        with start_uow() as uow:
            uow.events.add_new([received(e, offset=offset) for offset, e in enumerate(events)])  # in log order
            uow.users.apply(user_activity(events).values())
            uow.feature_states.save(save or [])
            uow.commit()

    def test_a_state_saved_at_the_users_event_count_reads_back_whole(self, start_uow):
        ann, bob = _events("ann", 9), _events("bob", 2)
        self._count(start_uow, ann + bob)
        with start_uow() as uow:
            assert uow.feature_states.read(["ann", "bob"], 10) == SavedFeatureStates({}, {}, set())
            uow.feature_states.save([("ann", 9, _state(ann)), ("bob", 2, _state(bob))])
            uow.commit()
        with start_uow() as uow:
            read = uow.feature_states.read(["ann", "bob", "nobody"], 0)
            assert uow.feature_states.read([], 10) == SavedFeatureStates({}, {}, set())
        assert read == SavedFeatureStates({"ann": _state(ann), "bob": _state(bob)}, {}, {"nobody"})

    def test_a_state_missing_some_of_the_users_stored_events_is_not_whole(self, start_uow):
        ann = _events("ann", 5)
        self._count(start_uow, ann[:3])
        with start_uow() as uow:
            uow.feature_states.save([("ann", 3, _state(ann[:3]))])
            uow.commit()
        self._count(start_uow, ann[3:])  # two more counted, not in the saved state (nor stored)
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10) == SavedFeatureStates({}, {}, set())
            uow.feature_states.save([("ann", 5, _state(ann))])  # a newer save replaces it
            uow.commit()
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10).whole == {"ann": _state(ann)}

    def test_a_user_with_no_stored_event_is_unknown_whatever_was_saved(self, start_uow):
        with start_uow() as uow:
            uow.feature_states.save([("ghost", 0, UserFeatureState())])
            uow.commit()
        with start_uow() as uow:
            assert uow.feature_states.read(["ghost"], 10) == SavedFeatureStates({}, {}, {"ghost"})

    def test_what_is_saved_does_not_change_with_the_state_object_nor_survive_a_rollback(self, start_uow):
        ann = _events("ann", 4)
        self._count(start_uow, ann)
        state = _state(ann[:4])
        with start_uow() as uow:
            uow.feature_states.save([("ann", 4, state)])
            uow.commit()
            state.times.append(10**18)
            state.devices.clear()
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10).whole == {"ann": _state(ann)}
            uow.feature_states.save([("ann", 4, UserFeatureState())])  # rolled back: never committed
        with start_uow() as uow:
            (read,) = uow.feature_states.read(["ann"], 10).whole.values()
        assert read == _state(ann)
        read.times.clear()  # the caller updates what it reads in place; the saved one stays
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10).whole == {"ann": _state(ann)}

    def test_a_stale_state_comes_with_the_events_stored_after_it_in_the_order_stored(self, start_uow):
        ann, bob = _events("ann", 7), _events("bob", 3)
        self._record(start_uow, [*ann[:3], *bob], save=[("ann", 3, _state(ann[:3])), ("bob", 3, _state(bob))])
        self._record(start_uow, [ann[4], ann[3]])  # stored out of event-time order
        self._record(start_uow, ann[5:])
        with start_uow() as uow:
            read = uow.feature_states.read(["ann", "bob", "nobody"], 10)
            assert uow.feature_states.read(["ann", "bob"], 0) == SavedFeatureStates({"bob": _state(bob)}, {}, set())
        stale = StaleFeatureState(_state(ann[:3]), _since([ann[4], ann[3], *ann[5:]]))
        assert read == SavedFeatureStates({"bob": _state(bob)}, {"ann": stale}, {"nobody"})
        (event, _), *_ = read.stale["ann"].since
        assert type(event.event_type) is type(ann[4].event_type) and event == PastEvent.of(ann[4])

    def test_a_state_lacking_more_than_it_can_be_caught_up_with_is_left_out(self, start_uow):
        ann = _events("ann", 8)
        self._record(start_uow, ann[:3], save=[("ann", 3, _state(ann[:3]))])
        self._record(start_uow, ann[3:])  # five more
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 4) == SavedFeatureStates({}, {}, set())  # more than 4
            assert uow.feature_states.read(["ann"], 5).stale == {
                "ann": StaleFeatureState(_state(ann[:3]), _since(ann[3:]))
            }

    def test_a_late_event_stored_since_but_older_than_the_latest_ones_leaves_the_user_out(self, start_uow):
        ann = _events("ann", 6, first_second=3600)
        late = make_event("click", user_id="ann", timestamp=T0.isoformat())  # before all of ann's
        self._record(start_uow, ann[:4], save=[("ann", 4, _state(ann[:4]))])
        self._record(start_uow, [late, *ann[4:]])
        with start_uow() as uow:
            # Its three missing events are not all among ann's three latest by event time.
            assert uow.feature_states.read(["ann"], 3) == SavedFeatureStates({}, {}, set())
            assert uow.feature_states.read(["ann"], 7).stale == {
                "ann": StaleFeatureState(_state(ann[:4]), _since([late, *ann[4:]]))
            }

    def test_a_state_holding_more_events_than_the_user_now_counts_is_neither_whole_nor_stale(self, start_uow):
        ann = _events("ann", 4)
        self._record(start_uow, ann[:2], save=[("ann", 3, _state(ann[:3]))])  # a count the user never had
        self._record(start_uow, ann[2:3])
        self._record(start_uow, ann[3:])
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10) == SavedFeatureStates({}, {}, set())


class TestInMemoryFeatureStates(FeatureStateContract):
    @pytest.fixture
    def start_uow(self):
        state = InMemoryState()
        return lambda: InMemoryUnitOfWork(state)


@pytest.mark.integration
class TestPostgresFeatureStates(FeatureStateContract):
    @pytest.fixture
    def start_uow(self, postgres_engine):
        return lambda: PostgresUnitOfWork(postgres_engine)

    def test_a_row_this_version_cannot_read_is_no_saved_state(self, start_uow, postgres_engine):
        ann = _events("ann", 2)
        self._count(start_uow, ann)
        with postgres_engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO user_feature_states (user_id, events_total, state) VALUES ('ann', 2, '\\x00ff')"
            )
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10) == SavedFeatureStates({}, {}, set())

    def test_a_stale_row_this_version_cannot_read_is_not_caught_up(self, start_uow, postgres_engine):
        ann = _events("ann", 3)
        self._record(start_uow, ann[:2])
        with postgres_engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO user_feature_states (user_id, events_total, state) VALUES ('ann', 1, '\\x00ff')"
            )
        with start_uow() as uow:
            assert uow.feature_states.read(["ann"], 10) == SavedFeatureStates({}, {}, set())
