"""Fixtures of the fault tests: supervised child processes, and a broker or a Postgres of
the test's own where the fault would otherwise hit every other test of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.embedded.broker import EmbeddedKafka
from adapters.embedded.postgres import EmbeddedPostgres
from tests.faults import Children


@pytest.fixture
def children(tmp_path) -> Iterator[Children]:
    """Start `analytics` commands with logs in tmp_path; nothing outlives the test."""
    started = Children(tmp_path)
    yield started
    started.kill_all()


@pytest.fixture
def own_postgres(tmp_path) -> Iterator[EmbeddedPostgres]:
    """A Postgres server for this test alone (so it can be stopped and started again)."""
    server = EmbeddedPostgres(tmp_path / "postgres" / "data").start()
    yield server
    server.stop()


@pytest.fixture
def own_broker(tmp_path) -> Iterator[EmbeddedKafka]:
    """A broker for this test alone (so it can be frozen)."""
    with EmbeddedKafka(tmp_path / "broker") as broker:
        yield broker
