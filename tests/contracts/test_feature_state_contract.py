"""One contract for users' saved feature states; the in-memory fake and Postgres both pass it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from domain.features import UserFeatureState, extract
from domain.users import user_activity
from tests.factories import T0, make_event


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


class FeatureStateContract:
    @pytest.fixture
    def start_uow(self):
        raise NotImplementedError  # each backend provides a factory of units of work

    def _count(self, start_uow, events) -> None:
        """Store `events`' counts in the users projection, as a recorded batch does."""
        with start_uow() as uow:
            uow.users.apply(user_activity(events).values())
            uow.commit()

    def test_a_state_saved_at_the_users_event_count_reads_back_equal(self, start_uow):
        ann, bob = _events("ann", 9), _events("bob", 2)
        self._count(start_uow, ann + bob)
        with start_uow() as uow:
            assert uow.feature_states.current(["ann", "bob"]) == {}
            uow.feature_states.save([("ann", 9, _state(ann)), ("bob", 2, _state(bob))])
            uow.commit()
        with start_uow() as uow:
            assert uow.feature_states.current(["ann", "bob", "nobody"]) == {"ann": _state(ann), "bob": _state(bob)}
            assert uow.feature_states.current([]) == {}

    def test_a_state_missing_some_of_the_users_stored_events_is_not_current(self, start_uow):
        ann = _events("ann", 5)
        self._count(start_uow, ann[:3])
        with start_uow() as uow:
            uow.feature_states.save([("ann", 3, _state(ann[:3]))])
            uow.commit()
        self._count(start_uow, ann[3:])  # two more stored, not in the saved state
        with start_uow() as uow:
            assert uow.feature_states.current(["ann"]) == {}
            uow.feature_states.save([("ann", 5, _state(ann))])  # a newer save replaces it
            uow.commit()
        with start_uow() as uow:
            assert uow.feature_states.current(["ann"]) == {"ann": _state(ann)}

    def test_a_state_of_a_user_without_a_profile_is_not_current(self, start_uow):
        with start_uow() as uow:
            uow.feature_states.save([("ghost", 0, UserFeatureState())])
            uow.commit()
        with start_uow() as uow:
            assert uow.feature_states.current(["ghost"]) == {}

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
            assert uow.feature_states.current(["ann"]) == {"ann": _state(ann)}
            uow.feature_states.save([("ann", 4, UserFeatureState())])  # rolled back: never committed
        with start_uow() as uow:
            (read,) = uow.feature_states.current(["ann"]).values()
        assert read == _state(ann)
        read.times.clear()  # the caller updates what it reads in place; the saved one stays
        with start_uow() as uow:
            assert uow.feature_states.current(["ann"]) == {"ann": _state(ann)}


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

    def test_a_row_this_version_cannot_read_is_not_current(self, start_uow, postgres_engine):
        ann = _events("ann", 2)
        self._count(start_uow, ann)
        with postgres_engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO user_feature_states (user_id, events_total, state) VALUES ('ann', 2, '\\x00ff')"
            )
        with start_uow() as uow:
            assert uow.feature_states.current(["ann"]) == {}
