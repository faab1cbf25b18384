"""Kafka over TLS: the platform's client settings produce and consume through a TLS-only
broker, and a client that does not speak TLS, or does not trust the broker, gets nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaException, Producer

from adapters.embedded.broker import EmbeddedKafka
from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.reader import KafkaEventLogReader
from adapters.kafka.topics import ensure_topics
from application.ports.event_log import DeliveryReport
from entrypoints.settings import KafkaSettings, Settings
from tests.security import Pki, issue_certificates

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return issue_certificates(tmp_path_factory.mktemp("pki"))


def _tls_broker(workdir: Path, pki: Pki) -> EmbeddedKafka:
    return EmbeddedKafka(workdir, tls_certificate=pki.server_certificate, tls_key=pki.server_key)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[EmbeddedKafka]:
    with _tls_broker(tmp_path_factory.mktemp("tansu-tls"), pki) as broker:
        yield broker


def test_the_platform_produces_and_consumes_over_tls_with_its_settings(tls_broker, pki, monkeypatch):
    monkeypatch.setenv("ANALYTICS_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("ANALYTICS_KAFKA_SSL_CA_LOCATION", str(pki.ca_certificate))
    config = Settings().kafka.client_config(tls_broker.bootstrap)
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    ensure_topics(config, {topic: 1})

    publisher = KafkaEventPublisher(config)
    try:
        publisher.publish(topic, b"user_000042", b'{"event": "over tls"}')
        assert publisher.flush(20) == DeliveryReport(delivered=1, failed=0, pending=0)
    finally:
        publisher.close()
    (record,) = KafkaEventLogReader(config, timeout=20).read(topic, 0, 0, 10)

    assert (record.key, record.value) == (b"user_000042", b'{"event": "over tls"}')


def test_a_plaintext_client_gets_nothing_from_a_tls_broker(tls_broker):
    plaintext = KafkaSettings().client_config(tls_broker.bootstrap)

    # The broker is up (the TLS client above used it): the plaintext one never gets through.
    assert "brokers are down" in _refusal(plaintext)


def test_a_client_that_trusts_another_authority_is_refused(tls_broker, tmp_path):
    stranger = issue_certificates(tmp_path / "other-ca")
    config = KafkaSettings(security_protocol="SSL", ssl_ca_location=stranger.ca_certificate).client_config(
        tls_broker.bootstrap
    )

    assert "certificate verify failed" in _refusal(config)


def test_a_certificate_for_another_host_name_is_refused(tmp_path):
    elsewhere = issue_certificates(tmp_path / "pki", names="DNS:kafka.elsewhere.example")
    with _tls_broker(tmp_path / "tansu", elsewhere) as broker:
        config = KafkaSettings(security_protocol="SSL", ssl_ca_location=elsewhere.ca_certificate).client_config(
            broker.bootstrap
        )

        assert "certificate verify failed" in _refusal(config)


def _refusal(config: dict[str, str], wait: float = 10.0) -> str:
    """The errors the client reports trying to connect (fails the test if it gets metadata)."""
    errors: list[str] = []
    producer = Producer({**config, "error_cb": lambda error: errors.append(error.str())})
    deadline = time.monotonic() + wait
    while not errors and time.monotonic() < deadline:
        producer.poll(0.1)
    with pytest.raises(KafkaException):
        producer.list_topics(timeout=1.0)
    return " | ".join(errors)
