"""The ingest dataflow with Bytewax's testing source and the in-memory event store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bytewax.testing import TestingSink, TestingSource, run_main

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from application.decoding import decode_batch
from application.ingest import Recorder
from application.messages import BatchOutcome, RawMessage
from dataflows.ingest import build_ingest_flow
from dataflows.store_sink import StoreSink
from domain.errors import StorageUnavailable
from domain.failures import ErrorType
from tests.factories import event_doc, payload

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _decode(records):
    return decode_batch(records, consumer="test", processor_version="test/1", now=NOW)


def _records(partition: int, payloads: list[bytes], first_offset: int = 0) -> list[RawMessage]:
    return [
        RawMessage("user-events", partition, first_offset + i, b"k", payload, None)
        for i, payload in enumerate(payloads)
    ]


def _run_into_store(batches, state: InMemoryState, partitions=(0, 1, 2)) -> None:
    def record(batch):
        return Recorder(lambda: InMemoryUnitOfWork(state), "test/1")(batch, now=NOW)

    flow = build_ingest_flow(TestingSource(batches), StoreSink(list(partitions), record), decode=_decode)
    run_main(flow)


def test_valid_events_are_stored_and_invalid_ones_dead_lettered():
    batches = [
        _records(0, [payload(user_id="a"), b"not json", payload(user_id="a", event_type="purchase", value="5.00")]),
        _records(1, [payload(user_id="b"), payload(user_id="b", country="us")]),
    ]
    state = InMemoryState()
    _run_into_store(batches, state)

    assert len(state.events) == 3
    assert {f.error_type for f in state.dead_letters} == {ErrorType.DESERIALIZE, ErrorType.SCHEMA}
    assert {(f.source_partition, f.source_offset) for f in state.dead_letters} == {(0, 1), (1, 1)}
    assert state.users["a"].total_purchases == 1
    assert state.offsets == {("test", "user-events", 0): 3, ("test", "user-events", 1): 2}


def test_reading_the_same_records_again_changes_nothing():
    doc = payload(user_id="a", event_type="purchase", value="7.50")
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
    batches = [_records(2, [payload()]), _records(0, [payload()])]
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
    run_main(build_ingest_flow(TestingSource([_records(0, [payload()])]), sink, decode=_decode))
    assert attempts == [1, 1, 1]
    assert seen == [BatchOutcome(stored=1, duplicates=0, failed=0)]


def test_each_store_partition_calls_on_closed_once_all_its_batches_are_recorded():
    happened: list[tuple[str, int]] = []

    def record(batch):
        happened.append(("recorded", batch.position.partition))
        return BatchOutcome(stored=len(batch.events), duplicates=0, failed=len(batch.failures))

    sink = StoreSink([0, 1], record, on_closed=lambda partition: happened.append(("closed", partition)))
    batches = [_records(0, [payload()]), _records(1, [payload()]), _records(0, [payload()], first_offset=1)]
    run_main(build_ingest_flow(TestingSource(batches), sink, decode=_decode))
    for partition in (0, 1):
        mine = [what for what, p in happened if p == partition]
        assert mine[-1] == "closed" and mine.count("closed") == 1 and "recorded" in mine


def test_a_failing_on_closed_is_logged_and_the_flow_still_ends(caplog):
    def fail(partition: int) -> None:
        raise StorageUnavailable("the server went away")

    sink = StoreSink([0], lambda b: BatchOutcome(stored=1, duplicates=0, failed=0), on_closed=fail)
    run_main(build_ingest_flow(TestingSource([_records(0, [payload()])]), sink, decode=_decode))
    assert any(r.getMessage() == "saving at close failed" and r.partition == 0 for r in caplog.records)


def _at(event_time: datetime, received: datetime, partition: int, offset: int, **overrides) -> RawMessage:
    value = payload(timestamp=event_time.isoformat(), **overrides)
    return RawMessage("user-events", partition, offset, b"k", value, int(received.timestamp() * 1000))


def test_out_of_order_and_late_events_land_in_the_right_windows_and_sessions():
    t = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    minute = timedelta(minutes=1)
    batches = [
        [
            _at(t + 2 * minute, t + 2 * minute, 0, 0, user_id="a"),
            _at(t + 1 * minute, t + 2 * minute, 0, 1, user_id="a"),  # out of order, on time
            _at(t - 10 * minute, t + 2 * minute, 0, 2, user_id="a"),  # 12 min behind: late
        ],
        [_at(t + 40 * minute, t + 40 * minute, 0, 3, user_id="a")],  # beyond the session gap
        [_at(t + 20 * minute, t + 21 * minute, 0, 4, user_id="a")],  # bridges the two sessions
    ]
    state = InMemoryState()
    _run_into_store(batches, state)

    windows = InMemoryUnitOfWork(state)
    with windows as uow:
        per_minute = {row[0]: row[3] for row in uow.windows.minute_rows() if row[1] == "all"}
        sessions = uow.sessions.all()
        daily = uow.daily_stats.all()
    assert per_minute == {t + minute: 1, t + 2 * minute: 1, t + 20 * minute: 1, t + 40 * minute: 1}
    assert [(s.start, s.end, s.events) for s in sessions] == [(t + minute, t + 40 * minute, 4)]
    assert sum(d.events for d in daily) == 5, "late events still count in daily stats"
    assert [r.timing.late for r in sorted(state.events.values(), key=lambda r: r.offset)] == [
        False,
        False,
        True,
        False,
        False,
    ]


def test_each_batch_reports_how_many_of_its_new_events_were_late():
    t = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    outcomes: list[BatchOutcome] = []
    state = InMemoryState()
    recorder = Recorder(lambda: InMemoryUnitOfWork(state), "test/1")
    sink = StoreSink([0], lambda b: recorder(b, now=NOW), on_recorded=lambda b, o: outcomes.append(o))
    batch = [_at(t, t, 0, 0), _at(t - timedelta(hours=1), t, 0, 1), _at(t, t, 0, 2, event_id=event_doc()["event_id"])]
    run_main(build_ingest_flow(TestingSource([batch, batch]), sink, decode=_decode))
    # (the sink may commit both batches as one: count over outcomes)
    totals = [sum(getattr(o, field) for o in outcomes) for field in ("stored", "late", "duplicates")]
    assert totals == [3, 1, 3]
