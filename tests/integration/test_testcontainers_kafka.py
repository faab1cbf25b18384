"""The Kafka adapters against a real Apache Kafka broker started by testcontainers."""

from __future__ import annotations

import uuid

import pytest

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.reader import KafkaEventLogReader
from adapters.kafka.topics import DEFAULT_PARTITIONS, ensure_topics, topic_partitions
from tests.docker import NO_DOCKER_REASON, docker_available

pytestmark = [pytest.mark.integration, pytest.mark.skipif(not docker_available(), reason=NO_DOCKER_REASON)]


def test_publish_and_read_back_on_apache_kafka():
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        config = {"bootstrap.servers": kafka.get_bootstrap_server()}
        topic = f"tc-{uuid.uuid4().hex[:12]}"
        ensure_topics(config, {topic: DEFAULT_PARTITIONS})
        assert topic_partitions(config, topic) == list(range(DEFAULT_PARTITIONS))

        publisher = KafkaEventPublisher(config)
        for i in range(100):
            publisher.publish(topic, f"user-{i % 9}".encode(), f"{i}".encode(), [("n", b"%d" % i)])
        report = publisher.close()
        assert (report.delivered, report.failed, report.pending) == (100, 0, 0)

        reader = KafkaEventLogReader(config)
        ends = reader.end_offsets(topic)
        records = [r for p, end in ends.items() for r in reader.read(topic, p, 0, end)]
        assert sorted(int(r.value) for r in records) == list(range(100))
        assert all(r.headers == (("n", r.value),) for r in records)
