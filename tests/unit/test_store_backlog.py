"""The queue between a partition's worker and its writer: bounded by records, not by batches."""

from __future__ import annotations

import threading

from application.messages import BatchOutcome, IngestBatch, LogPosition
from dataflows.store_sink import Backlog, StoreSink


def _batch(records: int, next_offset: int = 0) -> IngestBatch:
    position = LogPosition("test", "user-events", 0, next_offset)
    return IngestBatch(position=position, events=[object()] * records)  # type: ignore[list-item]


def test_small_batches_queue_without_waiting_until_their_records_reach_the_bound():
    backlog = Backlog(max_records=100)

    assert all(backlog.put(_batch(10), timeout=0) for _ in range(10))
    assert not backlog.put(_batch(1), timeout=0.01)  # 101 records would not fit


def test_taking_everything_makes_room_and_keeps_the_order():
    backlog = Backlog(max_records=10)
    batches = [_batch(5, next_offset=5), _batch(5, next_offset=10)]
    for batch in batches:
        assert backlog.put(batch, timeout=0)

    assert backlog.take_all() == batches
    assert backlog.put(_batch(10), timeout=0)


def test_a_batch_larger_than_the_bound_is_taken_when_the_backlog_is_empty():
    backlog = Backlog(max_records=10)

    assert backlog.put(_batch(25), timeout=0)
    assert not backlog.put(_batch(1), timeout=0.01)
    assert [len(b.events) for b in backlog.take_all() if b is not None] == [25]
    assert backlog.put(_batch(1), timeout=0)


def test_a_waiting_put_goes_through_as_soon_as_the_writer_takes_the_backlog():
    backlog = Backlog(max_records=10)
    backlog.put(_batch(10), timeout=0)
    result: list[bool] = []
    waiting = threading.Thread(target=lambda: result.append(backlog.put(_batch(10), timeout=5)))
    waiting.start()

    assert len(backlog.take_all()) == 1
    waiting.join(timeout=5)
    assert result == [True]
    assert len(backlog.take_all()) == 1


def test_the_worker_goes_on_reading_while_its_writer_commits_and_what_queued_commits_together():
    first_began, release = threading.Event(), threading.Event()
    recorded: list[int] = []

    def record(batch: IngestBatch) -> BatchOutcome:
        first_began.set()
        release.wait(timeout=10)
        recorded.append(len(batch.events))
        return BatchOutcome(stored=len(batch.events), duplicates=0, failed=0)

    part = StoreSink([0], record, max_queued=1_000).build_part("store", "0", None)
    part.write_batch([_batch(3, next_offset=3)])
    assert first_began.wait(timeout=5)

    for offset in range(6, 36, 3):  # ten more small batches while the first transaction is open
        put = threading.Thread(target=part.write_batch, args=([_batch(3, next_offset=offset)],))
        put.start()
        put.join(timeout=1)
        assert not put.is_alive(), "a small batch waited for the writer although its backlog had room"
    release.set()
    part.close()

    assert recorded == [3, 30]
    assert part.snapshot() == 33
