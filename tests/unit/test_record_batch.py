"""Recording a batch exactly once: retries, replays, failures and poison events."""

from __future__ import annotations

import json

import pytest

from adapters.in_memory.event_log import InMemoryEventLog
from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.kafka.processed_publisher import KafkaProcessedEventPublisher
from application.ingest import Recorder
from application.messages import BatchOutcome
from application.ports.event_log import Acknowledged
from domain.errors import RejectedByStore
from domain.failures import ErrorType
from tests.factories import NOW, VERSION, batch, failed, make_event, money, received

# === record_batch ========================================================================


@pytest.fixture
def state() -> InMemoryState:
    return InMemoryState()


def record(state: InMemoryState, ingest_batch, uow_class=InMemoryUnitOfWork) -> BatchOutcome:
    return Recorder(lambda: uow_class(state), VERSION)(ingest_batch, now=NOW)


OFFSET_KEY = ("test-consumer", "user-events", 0)


def snapshot(state: InMemoryState):
    return (
        dict(state.events),
        dict(state.users),
        list(state.dead_letters),
        dict(state.offsets),
    )


def test_batch_stores_events_users_dead_letters_and_offset_in_one_go(state):
    alice_buys = received(make_event("purchase", user_id="alice", value="12.50", country="GB"), offset=0)
    alice_looks = received(make_event("page_view", user_id="alice", country="GB"), offset=1)
    bob_looks = received(make_event("page_view", user_id="bob", country="BR"), offset=2)
    bad = failed(offset=3)

    outcome = record(state, batch([alice_buys, alice_looks, bob_looks], [bad]))

    assert outcome == BatchOutcome(stored=3, duplicates=0, failed=1)
    assert set(state.events) == {r.event.event_id for r in (alice_buys, alice_looks, bob_looks)}
    assert state.users["alice"].total_events == 2
    assert state.users["alice"].total_purchases == 1
    assert state.users["alice"].total_spent == money("12.50")
    assert state.users["bob"].total_events == 1
    assert state.dead_letters == [bad.model_copy(update={"id": 1})]
    assert state.offsets == {OFFSET_KEY: 4}


def test_batch_of_only_dead_letters_still_advances_the_offset(state):
    outcome = record(state, batch([], [failed(offset=0), failed(offset=1)]))

    assert outcome == BatchOutcome(stored=0, duplicates=0, failed=2)
    assert state.events == {}
    assert state.users == {}
    assert state.offsets == {OFFSET_KEY: 2}


def test_recording_the_same_batch_twice_changes_nothing(state):
    same = batch(
        [
            received(make_event("purchase", user_id="alice", value="3.00"), offset=0),
            received(make_event("click", user_id="alice"), offset=1),
        ],
        [failed(offset=2)],
    )
    record(state, same)
    before = snapshot(state)

    outcome = record(state, same)

    assert outcome == BatchOutcome(stored=0, duplicates=2, failed=0)
    assert snapshot(state) == before
    assert state.users["alice"].total_events == 2
    assert state.users["alice"].total_spent == money("3.00")


def test_retried_event_is_counted_once(state):
    purchase = make_event("purchase", user_id="alice", value="10.00")
    record(state, batch([received(purchase, offset=0), received(make_event(user_id="alice"), offset=1)]))

    # The producer retried: the same event arrives again, further down the log.
    outcome = record(state, batch([received(purchase, offset=7), received(make_event(user_id="alice"), offset=8)]))

    assert outcome == BatchOutcome(stored=1, duplicates=1, failed=0)
    assert len(state.events) == 3
    user = state.users["alice"]
    assert user.total_events == 3
    assert user.total_purchases == 1
    assert user.total_spent == money("10.00")
    assert state.offsets == {OFFSET_KEY: 9}


def test_event_repeated_within_one_batch_is_counted_once(state):
    purchase = make_event("purchase", user_id="alice", value="10.00")

    outcome = record(state, batch([received(purchase, offset=0), received(purchase, offset=1)]))

    assert outcome == BatchOutcome(stored=1, duplicates=1, failed=0)
    assert state.users["alice"].total_events == 1
    assert state.users["alice"].total_spent == money("10.00")
    assert state.events[purchase.event_id].offset == 0  # first occurrence in the log wins


def test_replaying_a_suffix_of_a_batch_changes_nothing(state):
    records = [received(make_event(user_id="alice"), offset=i) for i in range(4)]
    record(state, batch(records, [failed(offset=4)]))
    before = snapshot(state)

    # After a crash the consumer may re-read from any earlier offset.
    record(state, batch(records[2:], [failed(offset=4)]))

    assert snapshot(state) == before


class _ExplodingDeadLetters:
    def add(self, failures):
        raise RuntimeError("connection lost mid-transaction")


class DeadLettersFailUnitOfWork(InMemoryUnitOfWork):
    def __enter__(self):
        uow = super().__enter__()
        uow.dead_letters = _ExplodingDeadLetters()
        return uow


def test_unit_of_work_that_fails_midway_commits_nothing(state):
    events = [received(make_event("purchase", user_id="alice", value="1.00"), offset=i) for i in range(3)]

    with pytest.raises(RuntimeError):
        record(state, batch(events, [failed(offset=3)]), uow_class=DeadLettersFailUnitOfWork)

    assert len(state.events) == 0
    assert state.users == {}
    assert state.dead_letters == []
    assert state.offsets == {}


def test_batch_that_failed_midway_can_be_recorded_again_in_full(state):
    events = [received(make_event(user_id="alice"), offset=i) for i in range(3)]
    the_batch = batch(events)
    with pytest.raises(RuntimeError):
        record(state, the_batch, uow_class=DeadLettersFailUnitOfWork)

    outcome = record(state, the_batch)

    assert outcome == BatchOutcome(stored=3, duplicates=0, failed=0)
    assert state.users["alice"].total_events == 3


class _PoisonRejectingEvents:
    """Like a database whose constraint refuses any statement holding the poison row."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.calls = 0

    def add_new(self, events, scores=None):
        self._refuse_poison(events)
        return self._inner.add_new(events, scores)

    def add_all_new(self, events, scores=None):
        self._refuse_poison(events)
        return self._inner.add_all_new(events, scores)

    def _refuse_poison(self, events) -> None:
        self.calls += 1
        if any(r.event.user_id == "poison" for r in events):
            raise RejectedByStore("value violates check constraint")

    def count(self):
        return self._inner.count()


class PoisonRejectingUnitOfWork(InMemoryUnitOfWork):
    def __enter__(self):
        uow = super().__enter__()
        uow.events = _PoisonRejectingEvents(uow.events)
        return uow


def _poisoned_batch():
    good_1 = received(make_event("purchase", user_id="alice", value="4.00"), offset=0)
    poison = received(make_event("purchase", user_id="poison", value="9.99"), offset=1)
    good_2 = received(make_event("page_view", user_id="alice"), offset=2)
    schema_failure = failed(offset=3)
    return good_1, poison, good_2, schema_failure


def test_event_rejected_by_the_store_is_dead_lettered_and_the_rest_is_stored(state):
    good_1, poison, good_2, schema_failure = _poisoned_batch()

    outcome = record(state, batch([good_1, poison, good_2], [schema_failure]), uow_class=PoisonRejectingUnitOfWork)

    assert outcome == BatchOutcome(stored=2, duplicates=0, failed=2)
    assert set(state.events) == {good_1.event.event_id, good_2.event.event_id}
    assert state.users["alice"].total_events == 2
    assert state.users["alice"].total_spent == money("4.00")
    assert "poison" not in state.users
    assert state.offsets == {OFFSET_KEY: 4}

    persist = [f for f in state.dead_letters if f.error_type == ErrorType.PERSIST]
    assert len(persist) == 1
    [dead] = persist
    assert dead.event_id == str(poison.event.event_id)
    assert (dead.source_topic, dead.source_partition, dead.source_offset) == ("user-events", 0, 1)
    assert dead.processor_version == VERSION
    assert "check constraint" in dead.error_reason
    assert json.loads(dead.raw_data)["user_id"] == "poison"
    assert schema_failure.model_copy(update={"id": 1}) in state.dead_letters


def test_poison_event_alone_does_not_block_the_partition(state):
    poison = received(make_event(user_id="poison"), offset=5)

    outcome = record(state, batch([poison]), uow_class=PoisonRejectingUnitOfWork)

    assert outcome == BatchOutcome(stored=0, duplicates=0, failed=1)
    assert state.events == {}
    assert [f.error_type for f in state.dead_letters] == [ErrorType.PERSIST]
    assert state.offsets == {OFFSET_KEY: 6}


def test_replaying_a_batch_with_a_poison_event_changes_nothing(state):
    good_1, poison, good_2, schema_failure = _poisoned_batch()
    poisoned = batch([good_1, poison, good_2], [schema_failure])
    record(state, poisoned, uow_class=PoisonRejectingUnitOfWork)
    before = snapshot(state)

    outcome = record(state, poisoned, uow_class=PoisonRejectingUnitOfWork)

    assert outcome == BatchOutcome(stored=0, duplicates=2, failed=0)
    assert snapshot(state) == before


# === an output topic refusing a record for good ==========================================


def _big_and_small_batch():
    small = received(make_event("page_view", user_id="alice"), offset=0)
    big = received(make_event("page_view", user_id="bob", data={"page": "/", "note": "x" * 3000}), offset=1)
    return small, big, batch([small, big])


def test_an_event_whose_processed_copy_the_topic_refuses_is_stored_and_dead_lettered_not_retried(state):
    small, big, both = _big_and_small_batch()
    log = InMemoryEventLog(max_record_bytes=2000)  # the enriched copy of `big` is above it
    publisher = KafkaProcessedEventPublisher(log, "user-analytics")
    recorder = Recorder(lambda: InMemoryUnitOfWork(state), VERSION, publisher=publisher)

    outcome = recorder(both, now=NOW)

    assert (outcome.stored, outcome.failed) == (2, 1)
    assert set(state.events) == {small.event.event_id, big.event.event_id}  # stored: it was valid
    assert state.offsets == {OFFSET_KEY: 2}  # and the partition went on
    [dead] = state.dead_letters
    assert (dead.error_type, dead.event_id, dead.source_offset) == (ErrorType.PUBLISH, str(big.event.event_id), 1)
    assert dead.error_reason.startswith("stored, but not published: user-analytics: record of")
    assert json.loads(dead.raw_data)["user_id"] == "bob"
    published = [json.loads(r.value)["event"]["event_id"] for p in log.partitions("user-analytics")
                 for r in log.read("user-analytics", p, 0, 10)]  # fmt: skip
    assert published == [str(small.event.event_id)]

    before = snapshot(state)
    assert recorder(both, now=NOW).failed == 0  # redelivered: nothing new, no second dead letter
    assert snapshot(state) == before


class _RefusingTwice:
    """Refuses each event's copy twice (as a processed and an anomaly topic both might)."""

    def publish_processed(self, events):
        return Acknowledged([(p.received, reason) for p in events for reason in ("a: too large", "b: too large")])


def test_an_event_refused_by_two_topics_is_one_dead_letter_with_both_reasons(state):
    event = received(make_event(user_id="carol"), offset=0)
    recorder = Recorder(lambda: InMemoryUnitOfWork(state), VERSION, publisher=_RefusingTwice())

    assert recorder(batch([event]), now=NOW).failed == 1
    [dead] = state.dead_letters
    assert dead.error_reason == "stored, but not published: a: too large; b: too large"


def test_a_refused_copy_of_an_event_stored_on_its_own_is_dead_lettered_with_it(state):
    small, big, both = _big_and_small_batch()
    poison = received(make_event(user_id="poison"), offset=2)  # sends the batch down the one-by-one path
    log = InMemoryEventLog(max_record_bytes=2000)
    recorder = Recorder(
        lambda: PoisonRejectingUnitOfWork(state), VERSION, publisher=KafkaProcessedEventPublisher(log, "out")
    )

    outcome = recorder(batch([small, big, poison]), now=NOW)

    assert (outcome.stored, outcome.failed) == (2, 2)
    assert sorted(f.error_type for f in state.dead_letters) == [ErrorType.PERSIST, ErrorType.PUBLISH]
    assert state.offsets == {OFFSET_KEY: 3}
