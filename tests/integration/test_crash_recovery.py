"""kill -9 the dataflow mid-stream, twice, restart: the tables equal an uninterrupted run."""

from __future__ import annotations

import signal

import pytest

from tests.integration.expected import stored_projections
from tests.integration.platform import (
    EVENT_COLUMNS,
    FAILED_COLUMNS,
    Database,
    analytics,
    expected_users,
    platform_env,
    produce_workload,
    start_analytics,
)

pytestmark = pytest.mark.integration

COUNT = 30_000


def _tables(db: Database) -> dict[str, object]:
    return {
        **stored_projections(db),
        "events": db.rows(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY event_id"),
        "users": db.users(),
        "failed_events": db.rows(
            f"SELECT {FAILED_COLUMNS} FROM failed_events ORDER BY source_partition, source_offset"
        ),
        "offsets": db.rows("SELECT topic, partition, next_offset FROM consumer_offsets ORDER BY partition"),
    }


def test_kill_9_twice_mid_stream_then_restart_equals_an_uninterrupted_run(
    kafka_bootstrap, postgres_server, database_url, tmp_path
):
    crashed_url = database_url
    steady_url = postgres_server.create_database(f"steady_{tmp_path.name}"[:60])
    from adapters.postgres.engine import create_postgres_engine, upgrade_schema

    upgrade_schema(create_postgres_engine(steady_url, pool_size=1))
    # Small batches: many commits, so a kill lands between and inside transactions.
    env = platform_env(kafka_bootstrap, crashed_url, tmp_path, ANALYTICS_PROCESSOR_BATCH_SIZE="300")
    workload = produce_workload(env, COUNT, seed=23, shift_every=41)

    crashed = Database(crashed_url)
    stored = "SELECT count(*) FROM events"
    for fraction in (0.25, 0.6):
        proc = start_analytics("process", env=env, log=tmp_path / "processor.log")
        reached = crashed.wait_for(stored, int(COUNT * fraction))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert int(COUNT * fraction) <= reached < COUNT, "the kill must land mid-stream"
    assert analytics("process", "--until-caught-up", env=env, timeout=180).returncode == 0

    steady_env = {**env, "ANALYTICS_DATABASE_URL": steady_url}
    assert analytics("process", "--until-caught-up", env=steady_env, timeout=180).returncode == 0

    crashed_tables, steady_tables = _tables(crashed), _tables(Database(steady_url))
    assert len(crashed_tables["events"]) == COUNT
    assert crashed_tables["users"] == expected_users(workload.valid, crashed.event_times())
    assert crashed_tables == steady_tables
