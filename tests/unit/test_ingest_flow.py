"""The ingest dataflow with Bytewax's testing source and the in-memory event store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bytewax.testing import TestingSink, TestingSource, run_main

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from application.decoding import decode_batch
from application.ingest import Recorder
from application.messages import BatchOutcome, RawMessage
from dataflows.ingest import build_ingest_flow
from dataflows.store_sink import StoreSink
from domain.errors import StorageUnavailable
from domain.failures import ErrorType
from tests.factories import event_doc

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _decode(records):
    return decode_batch(records, consumer="test", processor_version="test/1", now=NOW)


def _records(partition: int, payloads: list[bytes], first_offset: int = 0) -> list[RawMessage]:
    return [
        RawMessage("user-events", partition, first_offset + i, b"k", payload, None)
        for i, payload in enumerate(payloads)
    ]


def _wire(**overrides) -> bytes:
    return json.dumps(event_doc(**overrides)).encode()


def _run_into_store(batches, state: InMemoryState, partitions=(0, 1, 2)) -> None:
    def record(batch):
        return Recorder(lambda: InMemoryUnitOfWork(state), "test/1")(batch, now=NOW)

    flow = build_ingest_flow(TestingSource(batches), StoreSink(list(partitions), record), decode=_decode)
    run_main(flow)


def test_valid_events_are_stored_and_invalid_ones_dead_lettered():
    batches = [
        _records(0, [_wire(user_id="a"), b"not json", _wire(user_id="a", event_type="purchase", value="5.00")]),
        _records(1, [_wire(user_id="b"), _wire(user_id="b", country="us")]),
    ]
    state = InMemoryState()
    _run_into_store(batches, state)

    assert len(state.events) == 3
    assert {f.error_type for f in state.dead_letters} == {ErrorType.DESERIALIZE, ErrorType.SCHEMA}
    assert {(f.source_partition, f.source_offset) for f in state.dead_letters} == {(0, 1), (1, 1)}
    assert state.users["a"].total_purchases == 1
    assert state.offsets == {("test", "user-events", 0): 3, ("test", "user-events", 1): 2}


def test_reading_the_same_records_again_changes_nothing():
    doc = _wire(user_id="a", event_type="purchase", value="7.50")
    batches = [_records(0, [doc, b"{}"]), _records(0, [doc], first_offset=2)]
    once, twice = InMemoryState(), InMemoryState()
    _run_into_store(batches, once)
    _run_into_store(batches, twice)
    _run_into_store(batches, twice)

    assert twice.events.keys() == once.events.keys() and len(once.events) == 1
    assert twice.users == once.users and once.users["a"].total_spent == 7.5
    assert len(twice.dead_letters) == len(once.dead_letters) == 1


def test_batches_are_keyed_by_their_kafka_partition():
    out: list = []
    batches = [_records(2, [_wire()]), _records(0, [_wire()])]
    run_main(build_ingest_flow(TestingSource(batches), TestingSink(out), decode=_decode))
    assert sorted(key for key, _ in out) == ["0", "2"]
    assert all(batch.position.partition == int(key) for key, batch in out)


def test_store_sink_retries_while_storage_is_unavailable():
    attempts: list[int] = []

    def flaky_record(batch):
        attempts.append(batch.position.next_offset)
        if len(attempts) < 3:
            raise StorageUnavailable("connection refused")
        return BatchOutcome(stored=len(batch.events), duplicates=0, failed=len(batch.failures))

    seen = []
    sink = StoreSink([0], flaky_record, on_recorded=lambda b, o: seen.append(o), max_backoff_s=0.01)
    run_main(build_ingest_flow(TestingSource([_records(0, [_wire()])]), sink, decode=_decode))
    assert attempts == [1, 1, 1]
    assert seen == [BatchOutcome(stored=1, duplicates=0, failed=0)]
