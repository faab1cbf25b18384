"""The embedded server runs with settings for a write-heavy load, also when adopted from an earlier run."""

from __future__ import annotations

import time

import psycopg
import pytest

from adapters.embedded.postgres import WRITE_HEAVY_SETTINGS, EmbeddedPostgres

pytestmark = pytest.mark.integration


def _settings(server: EmbeddedPostgres) -> dict[str, str]:
    with psycopg.connect(host=server.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in WRITE_HEAVY_SETTINGS}


def _eventually(server: EmbeddedPostgres, expected: dict[str, str]) -> dict[str, str]:
    deadline = time.monotonic() + 5  # a reload is a signal: the server applies it a moment later
    while (seen := _settings(server)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def test_checkpoints_come_by_time_not_every_gigabyte_of_wal_even_on_an_adopted_server(postgres_server):
    if not isinstance(postgres_server, EmbeddedPostgres):
        pytest.skip("the test server is not the embedded one")
    assert _eventually(postgres_server, WRITE_HEAVY_SETTINGS) == WRITE_HEAVY_SETTINGS
    with psycopg.connect(host=postgres_server.socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute("ALTER SYSTEM RESET ALL")  # as a data directory from before this change would be
        conn.execute("SELECT pg_reload_conf()")
    assert _eventually(postgres_server, {"max_wal_size": "1GB", "checkpoint_timeout": "5min"})["max_wal_size"] == "1GB"

    EmbeddedPostgres(postgres_server.data_dir).start()  # adopts the running server

    assert _eventually(postgres_server, WRITE_HEAVY_SETTINGS) == WRITE_HEAVY_SETTINGS
