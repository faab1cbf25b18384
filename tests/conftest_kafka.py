"""Pytest plugin: one Kafka-compatible broker for the whole test session.

The broker is chosen in this order:
1. `ANALYTICS_TEST_KAFKA_BOOTSTRAP` (an already running cluster, e.g. in CI);
2. a testcontainers Kafka, when a Docker engine answers;
3. the embedded Tansu broker (in memory, started in a temporary directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from adapters.embedded.broker import EmbeddedKafka
from tests.docker import docker_available

BOOTSTRAP_ENV = "ANALYTICS_TEST_KAFKA_BOOTSTRAP"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of the session's broker."""
    configured = os.environ.get(BOOTSTRAP_ENV)
    if configured:
        yield configured
    elif docker_available():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        with EmbeddedKafka(tmp_path_factory.mktemp("tansu")) as broker:
            yield broker.bootstrap


@pytest.fixture
def kafka_config(kafka_bootstrap: str) -> dict[str, object]:
    """A fresh base client config (tests may add to it)."""
    return {"bootstrap.servers": kafka_bootstrap}
