"""One contract for the event log ports; the in-memory fake and Kafka both pass it."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict

import pytest

from adapters.in_memory.event_log import InMemoryEventLog
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.reader import KafkaEventLogReader
from adapters.kafka.topics import ensure_topics
from application.messages import RawMessage
from application.ports.event_log import MAX_RECORD_BYTES, EventLogReader, EventPublisher
from domain.errors import BrokerUnavailable, NotFound

PARTITIONS = 3


def read_all(reader: EventLogReader, topic: str) -> dict[int, list[RawMessage]]:
    return {p: reader.read(topic, p, 0, 10_000) for p in reader.partitions(topic)}


def _refused(index: int, reason: str) -> None:
    raise AssertionError(f"record {index} refused: {reason}")


class EventLogContract:
    @pytest.fixture
    def log(self) -> tuple[EventPublisher, EventLogReader]:
        raise NotImplementedError  # each backend returns (publisher, reader) over one log

    @pytest.fixture
    def create_topic(self, log):
        raise NotImplementedError  # each backend returns a function (name, partitions) -> None

    @pytest.fixture
    def topic(self, create_topic) -> str:
        name = f"contract-{uuid.uuid4().hex[:12]}"
        create_topic(name, PARTITIONS)
        return name

    def test_batches_published_from_several_threads_are_each_counted_once(self, log, topic):
        # Each partition's writer thread publishes its batches on one shared publisher.
        publisher, reader = log
        before = publisher.flush().delivered
        seen: list[int] = []
        done = threading.Event()

        def watch() -> None:  # what a metrics scrape reads meanwhile: a counter never goes back
            while not done.is_set():
                seen.append(publisher.report().delivered)

        def batch(thread: int) -> list[tuple[bytes, bytes]]:
            return [(b"user-%d" % (i % 7), b"%d-%d" % (thread, i)) for i in range(2_000)]

        watcher = threading.Thread(target=watch)
        writers = [threading.Thread(target=publisher.publish_many, args=(topic, batch(t), _refused)) for t in range(4)]
        watcher.start()
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        report = publisher.flush()
        done.set()
        watcher.join()

        assert (report.delivered - before, report.pending, report.failed) == (8_000, 0, 0)
        assert sum(len(records) for records in read_all(reader, topic).values()) == 8_000
        assert seen == sorted(seen) and seen[-1] <= report.delivered

    def test_records_read_back_in_order_per_partition(self, log, topic):
        publisher, reader = log
        sent = [(f"user-{i % 7}".encode(), f"event-{i}".encode()) for i in range(40)]
        for key, value in sent:
            publisher.publish(topic, key, value)
        publisher.flush()

        by_partition = read_all(reader, topic)
        assert reader.partitions(topic) == list(range(PARTITIONS))
        for partition, records in by_partition.items():
            assert [r.offset for r in records] == list(range(len(records)))
            assert all(r.topic == topic and r.partition == partition for r in records)
        received = sorted(((r.key, r.value) for rs in by_partition.values() for r in rs), key=lambda kv: int(kv[1][6:]))
        assert received == sent
        for key in {k for k, _ in sent}:
            mine = [r.value for rs in by_partition.values() for r in rs if r.key == key]
            assert mine == [v for k, v in sent if k == key]

    def test_a_record_keeps_the_arrival_time_it_was_published_with(self, log, topic):
        # A replayed backlog: each record says when it reached the platform, not when it was re-sent.
        publisher, reader = log
        an_hour_ago = int(time.time() * 1000) - 3_600_000
        publisher.publish(topic, b"user-1", b"then", timestamp_ms=an_hour_ago)
        publisher.publish(topic, b"user-1", b"now")
        publisher.flush()

        [then, now] = [r for records in read_all(reader, topic).values() for r in records]
        assert then.timestamp_ms == an_hour_ago
        assert abs(now.timestamp_ms - time.time() * 1000) < 60_000

    def test_a_record_too_large_for_the_log_is_refused_for_good_and_the_rest_delivered(self, log, topic):
        publisher, reader = log
        too_large = b"x" * (MAX_RECORD_BYTES + 1)
        refused: list[str] = []
        delivered_before = publisher.report().delivered

        publisher.publish(topic, b"user-1", b"before", on_refused=refused.append)
        publisher.publish(topic, b"user-1", too_large, on_refused=refused.append)
        publisher.publish(topic, b"user-1", b"after", on_refused=refused.append)
        report = publisher.flush()

        assert len(refused) == 1 and topic in refused[0], refused
        assert report.pending == 0 and report.delivered == delivered_before + 2
        assert [r.value for rs in read_all(reader, topic).values() for r in rs] == [b"before", b"after"]
        with pytest.raises(BrokerUnavailable):  # without a handler the refusal is an error, not a silent drop
            publisher.publish(topic, b"user-1", too_large)

    def test_publish_many_keeps_order_and_names_a_refused_record_by_its_index(self, log, topic):
        publisher, reader = log
        too_large = b"x" * (MAX_RECORD_BYTES + 1)
        records = [(f"user-{i % 5}".encode(), f"event-{i}".encode()) for i in range(30)]
        records[17] = (b"user-2", too_large)
        refused: list[tuple[int, str]] = []
        delivered_before = publisher.report().delivered

        publisher.publish_many(topic, records, lambda index, reason: refused.append((index, reason)))
        report = publisher.flush()

        assert [index for index, _ in refused] == [17] and topic in refused[0][1], refused
        assert report.pending == 0 and report.delivered == delivered_before + 29
        by_partition = read_all(reader, topic)
        for key in {k for k, _ in records}:
            mine = [r.value for rs in by_partition.values() for r in rs if r.key == key]
            assert mine == [v for k, v in records if k == key and v is not too_large]

    def test_same_key_always_lands_in_the_same_partition(self, log, topic):
        publisher, reader = log
        keys = [f"user-{i}".encode() for i in range(20)]
        for round_ in range(3):
            for key in keys:
                publisher.publish(topic, key, f"round-{round_}".encode())
            publisher.flush()  # separate flushes: separate produce requests on Kafka
        partitions_of = defaultdict(set)
        for partition, records in read_all(reader, topic).items():
            for record in records:
                partitions_of[record.key].add(partition)
        assert all(len(found) == 1 for found in partitions_of.values())
        assert len(partitions_of) == len(keys)
        assert len({p for found in partitions_of.values() for p in found}) > 1, "keys should spread"

    def test_flush_reports_every_record_delivered(self, log, topic):
        publisher, _ = log
        before = publisher.report()
        for i in range(250):
            publisher.publish(topic, f"user-{i}".encode(), b"x")
        report = publisher.flush()
        assert report.delivered - before.delivered == 250
        assert report.failed == before.failed
        assert report.pending == 0

    def test_a_flush_is_not_failed_by_records_another_thread_queues_meanwhile(self, log, topic):
        # API requests (and the dataflow's writers) share one publisher: each flushes and checks its
        # own records while the others keep publishing. A flush answers for what was queued before it.
        publisher, _ = log
        stop = threading.Event()

        def publish_continuously() -> None:
            i = 0
            while not stop.is_set():
                publisher.publish(topic, b"other", b"%d" % i)
                i += 1
                time.sleep(0.0005)

        other = threading.Thread(target=publish_continuously)
        other.start()
        try:
            reports = []
            for round_ in range(10):
                for i in range(100):
                    publisher.publish(topic, b"mine-%d" % i, b"%d-%d" % (round_, i))
                reports.append(publisher.flush(10.0))
        finally:
            stop.set()
            other.join()
        assert [r.pending for r in reports] == [0] * 10
        assert publisher.flush().pending == 0

    def test_end_offsets_advance_by_the_number_of_records(self, log, topic):
        publisher, reader = log
        assert reader.end_offsets(topic) == {p: 0 for p in range(PARTITIONS)}
        for batch in range(3):
            for i in range(30):
                publisher.publish(topic, f"user-{i}".encode(), f"{batch}".encode())
            publisher.flush()
        ends = reader.end_offsets(topic)
        assert sum(ends.values()) == 90
        assert ends == {p: len(records) for p, records in read_all(reader, topic).items()}

    def test_read_from_a_middle_offset(self, log, topic):
        publisher, reader = log
        for i in range(10):
            publisher.publish(topic, b"one-user", f"{i}".encode())
        publisher.flush()
        (partition,) = [p for p, end in reader.end_offsets(topic).items() if end]
        records = reader.read(topic, partition, 4, 3)
        assert [(r.offset, r.value) for r in records] == [(4, b"4"), (5, b"5"), (6, b"6")]
        assert [r.offset for r in reader.read(topic, partition, 8, 100)] == [8, 9]

    def test_headers_round_trip(self, log, topic):
        publisher, reader = log
        headers = [("event-type", b"purchase"), ("trace", b"\x00\xff"), ("trace", b"second")]
        publisher.publish(topic, b"with-headers", b"v", headers)
        publisher.publish(topic, b"with-headers", b"w")
        publisher.flush()
        records = [r for rs in read_all(reader, topic).values() for r in rs]
        assert [r.headers for r in records] == [tuple(headers), ()]

    def test_records_without_a_key_are_accepted(self, log, topic):
        publisher, reader = log
        publisher.publish(topic, None, b"anonymous")
        publisher.flush()
        records = [r for rs in read_all(reader, topic).values() for r in rs]
        assert [(r.key, r.value) for r in records] == [(None, b"anonymous")]

    def test_reading_past_the_end_returns_nothing(self, log, topic):
        publisher, reader = log
        publisher.publish(topic, b"k", b"v")
        publisher.flush()
        for partition, end in reader.end_offsets(topic).items():
            assert reader.read(topic, partition, end, 10) == []
            assert reader.read(topic, partition, end + 5, 10) == []

    def test_unknown_topic_is_not_found(self, log):
        _, reader = log
        with pytest.raises(NotFound):
            reader.partitions(f"missing-{uuid.uuid4().hex[:12]}")


class TestInMemoryEventLog(EventLogContract):
    @pytest.fixture
    def log(self):
        event_log = InMemoryEventLog()
        return event_log, event_log

    @pytest.fixture
    def create_topic(self, log):
        return log[0].create_topic


@pytest.fixture(scope="module")
def kafka_publisher(kafka_bootstrap):
    # One producer for the module: each new idempotent producer spends ~0.5 s getting its
    # producer id. The tests only compare delivery totals before and after.
    publisher = KafkaEventPublisher({"bootstrap.servers": kafka_bootstrap})
    yield publisher
    publisher.close()


@pytest.mark.integration
class TestKafkaEventLog(EventLogContract):
    @pytest.fixture
    def log(self, kafka_publisher, kafka_config):
        return kafka_publisher, KafkaEventLogReader(kafka_config)

    @pytest.fixture
    def create_topic(self, kafka_config):
        return lambda name, partitions: ensure_topics(kafka_config, {name: partitions})
