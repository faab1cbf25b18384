"""Decoding log records into a batch, and recording a batch exactly once."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from application.decoding import MAX_STORED_RAW_BYTES, decode_batch, describe_payload
from application.ingest import Recorder
from application.messages import BatchOutcome, LogPosition, RawMessage
from domain.errors import RejectedByStore
from domain.failures import ErrorType
from domain.validation import MAX_EVENT_BYTES
from tests.factories import T0, batch, event_doc, failed, make_event, money, raw_message, received

NOW = T0 + timedelta(hours=1)
VERSION = "test-1.2.3"


def payload(event_type: str = "page_view", **overrides) -> bytes:
    return json.dumps(event_doc(event_type, **overrides)).encode()


def decode(messages, *, consumer: str = "ingest", now: datetime = NOW):
    return decode_batch(messages, consumer=consumer, processor_version=VERSION, now=now)


# === decode_batch ========================================================================


def test_valid_and_invalid_records_are_split_and_none_is_dropped():
    values = [
        payload(),  # 100 valid
        b"not json",  # 101 deserialize
        payload("purchase"),  # 102 valid
        payload(device="phone"),  # 103 schema
        None,  # 104 deserialize
        payload("signup"),  # 105 valid
    ]
    messages = [raw_message(value, offset=100 + i) for i, value in enumerate(values)]

    decoded = decode(messages)

    assert len(decoded.events) + len(decoded.failures) == len(messages)
    assert [r.offset for r in decoded.events] == [100, 102, 105]
    assert [f.source_offset for f in decoded.failures] == [101, 103, 104]
    assert [f.error_type for f in decoded.failures] == [ErrorType.DESERIALIZE, ErrorType.SCHEMA, ErrorType.DESERIALIZE]


def test_all_valid_records_give_no_dead_letters():
    messages = [raw_message(payload(), offset=i) for i in range(5)]

    decoded = decode(messages)

    assert len(decoded.events) == 5
    assert decoded.failures == []


def test_all_invalid_records_give_no_events_but_still_a_position():
    messages = [raw_message(b"{}", offset=i) for i in range(3)]

    decoded = decode(messages)

    assert decoded.events == []
    assert len(decoded.failures) == 3
    assert decoded.position.next_offset == 3


def test_valid_event_keeps_its_log_position():
    doc = event_doc("click")
    message = raw_message(json.dumps(doc).encode(), partition=4, offset=77, topic="clicks")

    [event] = decode([message]).events

    assert (event.topic, event.partition, event.offset) == ("clicks", 4, 77)
    assert str(event.event.event_id) == doc["event_id"]


def test_received_at_is_the_log_timestamp_when_the_record_has_one():
    logged = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    message = RawMessage("user-events", 0, 0, None, payload(), timestamp_ms=int(logged.timestamp() * 1000))

    [event] = decode([message]).events

    assert event.received_at == logged


def test_received_at_is_now_when_the_record_has_no_timestamp():
    [event] = decode([raw_message(payload())], now=NOW).events

    assert event.received_at == NOW


def test_dead_letter_carries_its_source_position_version_and_reason():
    raw = payload(device="phone")
    message = raw_message(raw, partition=3, offset=42, topic="user-events")

    [dead] = decode([message]).failures

    assert dead.source_topic == "user-events"
    assert dead.source_partition == 3
    assert dead.source_offset == 42
    assert dead.processor_version == VERSION
    assert dead.failed_at == NOW
    assert dead.error_type == ErrorType.SCHEMA
    assert "device:" in dead.error_reason
    assert dead.raw_data == raw.decode()
    assert dead.raw_truncated is False


def test_schema_dead_letter_keeps_the_event_id():
    doc = event_doc(country="us")

    [dead] = decode([raw_message(json.dumps(doc).encode())]).failures

    assert dead.event_id == doc["event_id"]


def test_position_is_just_past_the_last_record():
    messages = [raw_message(payload(), partition=2, offset=o, topic="user-events") for o in (500, 501, 502)]

    decoded = decode(messages, consumer="ingest-group")

    assert decoded.position == LogPosition("ingest-group", "user-events", 2, 503, received_until=NOW)


def test_position_remembers_the_latest_receive_time_of_the_batch():
    early, late = datetime(2026, 11, 27, 9, tzinfo=UTC), datetime(2026, 11, 27, 10, tzinfo=UTC)
    stamps = [late, early]
    messages = [
        RawMessage("user-events", 0, i, None, payload(), timestamp_ms=int(t.timestamp() * 1000))
        for i, t in enumerate(stamps)
    ]

    assert decode(messages).position.received_until == late


def test_position_is_just_past_the_last_record_even_when_it_is_invalid():
    messages = [raw_message(payload(), offset=9), raw_message(b"[]", offset=10)]

    assert decode(messages).position.next_offset == 11


def test_record_without_a_value_is_a_deserialize_dead_letter():
    [dead] = decode([raw_message(None, offset=8)]).failures

    assert dead.error_type == ErrorType.DESERIALIZE
    assert dead.source_offset == 8
    assert dead.raw_data == ""
    assert dead.event_id is None


def test_oversize_payload_is_stored_truncated():
    doc = event_doc()
    doc["data"]["padding"] = "x" * (MAX_EVENT_BYTES + 1)
    raw = json.dumps(doc).encode()

    [dead] = decode([raw_message(raw)]).failures

    assert dead.error_type == ErrorType.SIZE
    assert dead.raw_truncated is True
    assert len(dead.raw_data.encode()) <= MAX_STORED_RAW_BYTES
    assert MAX_STORED_RAW_BYTES == 64 * 1024
    assert raw.decode().startswith(dead.raw_data)
    assert dead.raw_data.startswith('{"event_id"')  # enough kept to see what it was


def test_invalid_utf8_is_a_deserialize_dead_letter_stored_as_base64_of_the_exact_bytes():
    raw = b'{"user_id": "caf\xe9", "x": "\xff"}'

    [dead] = decode([raw_message(raw)]).failures

    assert dead.error_type == ErrorType.DESERIALIZE
    assert (dead.raw_encoding, dead.raw_truncated) == ("base64", False)
    assert base64.b64decode(dead.raw_data) == raw


def test_describe_payload_keeps_valid_utf8_as_is():
    assert describe_payload('{"city": "Zürich"}'.encode()) == ('{"city": "Zürich"}', "utf-8", False)


def test_describe_payload_keeps_nul_recoverable_although_text_columns_cannot_hold_it():
    text, encoding, truncated = describe_payload(b"a\x00b")

    assert "\x00" not in text
    assert (encoding, truncated) == ("base64", False)
    assert base64.b64decode(text) == b"a\x00b"


def test_describe_payload_truncates_only_above_the_limit():
    assert describe_payload(b"x" * MAX_STORED_RAW_BYTES) == ("x" * MAX_STORED_RAW_BYTES, "utf-8", False)
    assert describe_payload(b"x" * (MAX_STORED_RAW_BYTES + 1)) == ("x" * MAX_STORED_RAW_BYTES, "utf-8", True)


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

    def add_new(self, events):
        self.calls += 1
        if any(r.event.user_id == "poison" for r in events):
            raise RejectedByStore("value violates check constraint")
        return self._inner.add_new(events)

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
