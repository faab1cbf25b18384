"""Generated traffic into the event log: paced as it happens, or unpaced as a backlog."""

from __future__ import annotations

import time

from adapters.in_memory.event_log import InMemoryEventLog
from domain.validation import parse_event
from entrypoints.feeding import GENERATED_RATE, produce_generated


def _records(log: InMemoryEventLog, topic: str) -> list:
    return sorted((r for p in log.partitions(topic) for r in log.read(topic, p, 0, 100_000)), key=lambda r: r.value)


def test_unpaced_traffic_is_a_backlog_that_ended_now_each_record_stamped_with_its_arrival():
    log, count = InMemoryEventLog(), 3_000
    before = time.time() * 1000
    produce_generated(log, "user-events", count, rate=None, seed=1, show_progress=False)

    records = _records(log, "user-events")
    assert len(records) == count
    for record in records:
        event = parse_event(record.value)
        assert record.timestamp_ms == int((event.sent_at or event.timestamp).timestamp() * 1000)
    stamps = sorted(r.timestamp_ms for r in records)
    # count / GENERATED_RATE seconds of traffic (3 s), ending about when it was produced, not after it
    assert stamps[-1] - stamps[0] > 0.8 * count / GENERATED_RATE * 1000
    assert before - 4 * count / GENERATED_RATE * 1000 < stamps[0] and stamps[-1] < time.time() * 1000 + 1_000


def test_paced_traffic_happens_as_it_is_sent():
    log = InMemoryEventLog()
    before = time.time() * 1000
    produce_generated(log, "user-events", 20, rate=2_000, seed=1, show_progress=False)

    for record in _records(log, "user-events"):
        event = parse_event(record.value)
        assert before - 1 <= record.timestamp_ms <= time.time() * 1000 + 1
        assert abs(event.timestamp.timestamp() * 1000 - record.timestamp_ms) < 1_000
