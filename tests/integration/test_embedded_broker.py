"""The embedded Tansu broker, the Kafka adapters on it, and the Bytewax source end to end."""

from __future__ import annotations

import socket
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, poll_next_batch, run_main
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from adapters.embedded.broker import EmbeddedKafka
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.reader import KafkaEventLogReader
from adapters.kafka.source import KafkaPartitionedSource
from adapters.kafka.topics import (
    DEFAULT_PARTITIONS,
    USER_ANALYTICS,
    USER_ANOMALIES,
    USER_EVENTS,
    ensure_topics,
    topic_partitions,
)
from application.messages import RawMessage
from domain.errors import BrokerUnavailable

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(tmp_path_factory.mktemp("tansu")) as running:
        yield running


@pytest.fixture
def config(broker: EmbeddedKafka) -> dict[str, object]:
    return {"bootstrap.servers": broker.bootstrap}


def fresh_topic(config: dict[str, object]) -> str:
    name = f"it-{uuid.uuid4().hex[:12]}"
    ensure_topics(config, {name: DEFAULT_PARTITIONS})
    return name


@pytest.fixture(scope="module")
def publisher(broker: EmbeddedKafka) -> Iterator[KafkaEventPublisher]:
    # Shared: a new idempotent producer waits ~0.5 s for its producer id.
    shared = KafkaEventPublisher({"bootstrap.servers": broker.bootstrap})
    yield shared
    shared.close()


def publish(publisher: KafkaEventPublisher, topic: str, count: int) -> None:
    before = publisher.report()
    for i in range(count):
        publisher.publish(topic, f"user-{i % 17}".encode(), f"{i}".encode())
    after = publisher.flush()
    assert (after.delivered - before.delivered, after.failed - before.failed, after.pending) == (count, 0, 0)


def run_source(config: dict[str, object], topic: str, start_offsets: Mapping[int, int]) -> list[list[RawMessage]]:
    batches: list[list[RawMessage]] = []
    flow = Dataflow("source-test")
    # The end of a partition is only known after one empty fetch, which waits fetch.wait.max.ms.
    fast_eof = {**config, "fetch.wait.max.ms": 10}
    source = KafkaPartitionedSource(
        fast_eof, topic, start_offsets=lambda: start_offsets, batch_size=50, stop_at_end=True
    )
    op.output("out", op.input("in", flow, source), TestingSink(batches))
    run_main(flow)
    return batches


def accepts_tcp(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except OSError:
        return False


def test_start_answers_metadata_and_stop_is_idempotent(tmp_path: Path):
    broker = EmbeddedKafka(tmp_path).start()
    bootstrap = broker.bootstrap
    assert bootstrap.startswith("127.0.0.1:")
    assert AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5).brokers
    ensure_topics({"bootstrap.servers": bootstrap}, {"before-restart": 1})
    broker.stop()
    broker.stop()
    assert not broker.running
    assert not accepts_tcp(bootstrap)
    assert "tansu" in broker.log_path.read_text()

    with broker:  # a restart keeps the port and, storage being in memory, nothing else
        assert broker.bootstrap == bootstrap
        assert "before-restart" not in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5).topics
    assert not broker.running


def test_a_broker_that_exits_reports_its_log(tmp_path: Path):
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'address already in use'\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match="address already in use"):
        EmbeddedKafka(tmp_path, binary=fake).start()


def test_paused_broker_does_not_answer_until_resumed(broker: EmbeddedKafka, config):
    admin = AdminClient(config)
    broker.pause()
    try:
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=0.5)
    finally:
        broker.resume()
    assert admin.list_topics(timeout=5).brokers


def test_full_queue_on_a_frozen_broker_raises_broker_unavailable(broker: EmbeddedKafka, config):
    topic = fresh_topic(config)
    publisher = KafkaEventPublisher(config, overrides={"queue.buffering.max.messages": 5}, enqueue_timeout=0.3)
    broker.pause()
    try:
        with pytest.raises(BrokerUnavailable, match="queue still full"):
            for i in range(10):
                publisher.publish(topic, b"k", f"{i}".encode())
    finally:
        broker.resume()
    assert publisher.close().delivered == 5


def test_platform_topics_get_three_partitions(config):
    topics = {USER_EVENTS: DEFAULT_PARTITIONS, USER_ANALYTICS: DEFAULT_PARTITIONS, USER_ANOMALIES: DEFAULT_PARTITIONS}
    ensure_topics(config, topics)
    ensure_topics(config, topics)  # existing topics are fine
    for name in topics:
        assert topic_partitions(config, name) == [0, 1, 2]


def test_idempotent_producer_delivers_everything(config):
    topic = fresh_topic(config)
    publisher = KafkaEventPublisher(config)
    for i in range(2000):
        publisher.publish(topic, f"user-{i % 17}".encode(), f"{i}".encode())
    report = publisher.close()
    assert (report.delivered, report.failed, report.pending) == (2000, 0, 0)
    assert publisher.last_error is None
    assert sum(KafkaEventLogReader(config).end_offsets(topic).values()) == 2000


def test_bytewax_source_reads_every_record_exactly_once_in_offset_order(config, publisher):
    topic = fresh_topic(config)
    publish(publisher, topic, 600)
    ends = KafkaEventLogReader(config).end_offsets(topic)

    batches = run_source(config, topic, start_offsets={})

    by_partition: dict[int, list[int]] = defaultdict(list)
    for batch in batches:
        assert batch and len({r.partition for r in batch}) == 1, "a batch holds one partition"
        for record in batch:
            by_partition[record.partition].append(record.offset)
    assert {p: offsets for p, offsets in by_partition.items()} == {
        p: list(range(end)) for p, end in ends.items() if end
    }
    values = sorted(int(r.value) for batch in batches for r in batch)
    assert values == list(range(600))


def test_bytewax_source_honours_start_offsets(config, publisher):
    topic = fresh_topic(config)
    publish(publisher, topic, 300)
    ends = KafkaEventLogReader(config).end_offsets(topic)
    starts = {0: ends[0] // 2, 1: ends[1]}  # partition 2 is absent: read from the beginning

    batches = run_source(config, topic, start_offsets=starts)

    by_partition: dict[int, list[int]] = defaultdict(list)
    for record in (r for batch in batches for r in batch):
        by_partition[record.partition].append(record.offset)
    assert dict(by_partition) == {0: list(range(ends[0] // 2, ends[0])), 2: list(range(ends[2]))}


def test_tailing_partition_backs_off_when_idle_and_snapshots_the_next_offset(config, publisher):
    topic = fresh_topic(config)
    publisher.publish(topic, b"k", b"first")
    publisher.flush()
    (partition,) = [p for p, end in KafkaEventLogReader(config).end_offsets(topic).items() if end]
    source = KafkaPartitionedSource(config, topic, start_offsets=lambda: {})
    reader = source.build_part("in", str(partition), resume_state=None)
    try:
        assert [r.value for r in poll_next_batch(reader)[0]] == [b"first"]
        assert reader.snapshot() == 1
        assert reader.next_batch() == [] and reader.next_awake() is not None
        publisher.publish(topic, b"k", b"second")
        publisher.flush()
        assert [(r.offset, r.value) for r in poll_next_batch(reader)[0]] == [(1, b"second")]
        assert reader.next_awake() is None and reader.snapshot() == 2
    finally:
        reader.close()
    publisher.publish(topic, b"k", b"third")
    publisher.flush()
    resumed = source.build_part("in", str(partition), resume_state=2)
    try:
        assert [(r.offset, r.value) for r in poll_next_batch(resumed)[0]] == [(2, b"third")]
    finally:
        resumed.close()
