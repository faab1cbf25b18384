"""kill -9 the dataflow mid-stream, twice, restart: the tables equal an uninterrupted run, the
users' saved feature states included (caught up, after the kills, with the events stored since)."""

from __future__ import annotations

import signal
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.loopback import free_port
from adapters.postgres.feature_states import decode
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


def _states_loaded(port: int) -> dict[str, float]:
    """The worker's `analytics_user_states_loaded_total`, by how, summed over partitions."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    loaded: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "analytics_user_states_loaded_total":
                loaded[sample.labels["how"]] = loaded.get(sample.labels["how"], 0) + sample.value
    return loaded


def _feature_states(db: Database) -> dict[str, tuple]:
    rows = db.rows("SELECT user_id, events_total, state FROM user_feature_states")
    return {user_id: (total, decode(bytes(state))) for user_id, total, state in rows}


def test_kill_9_twice_mid_stream_then_restart_equals_an_uninterrupted_run(
    kafka_bootstrap, postgres_server, database_url, tmp_path
):
    crashed_url = database_url
    steady_url = postgres_server.create_database(f"steady_{tmp_path.name}"[:60])
    from adapters.postgres.engine import create_postgres_engine, upgrade_schema

    upgrade_schema(create_postgres_engine(steady_url, pool_size=1))
    # Small batches: many commits, so a kill lands between and inside transactions. Users' states
    # saved every 0.2 s: a kill leaves many saved, most of them a few events behind.
    env = platform_env(
        kafka_bootstrap, crashed_url, tmp_path,
        ANALYTICS_PROCESSOR_BATCH_SIZE="300", ANALYTICS_PROCESSOR_DETECTOR_SNAPSHOT_S="0.2",
    )  # fmt: skip
    workload = produce_workload(env, COUNT, seed=23, shift_every=41)

    crashed = Database(crashed_url)
    stored = "SELECT count(*) FROM events"
    loaded: list[dict[str, float]] = []
    for fraction in (0.25, 0.6):
        port = free_port()
        run_env = {**env, "ANALYTICS_PROCESSOR_METRICS_PORT": str(port)}
        proc = start_analytics("process", env=run_env, log=tmp_path / "processor.log")
        reached = crashed.wait_for(stored, int(COUNT * fraction))
        loaded.append(_states_loaded(port))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert int(COUNT * fraction) <= reached < COUNT, "the kill must land mid-stream"
    assert analytics("process", "--until-caught-up", env=env, timeout=180).returncode == 0
    # The run after the first kill caught stale states up rather than rebuilding those users.
    assert loaded[1].get("caught_up", 0) > loaded[1].get("rebuilt", 0), loaded

    steady_env = {**env, "ANALYTICS_DATABASE_URL": steady_url}
    assert analytics("process", "--until-caught-up", env=steady_env, timeout=180).returncode == 0

    crashed_tables, steady_tables = _tables(crashed), _tables(Database(steady_url))
    assert len(crashed_tables["events"]) == COUNT
    assert crashed_tables["users"] == expected_users(workload.valid, crashed.event_times())
    assert crashed_tables == steady_tables
    # Each user's whole saved feature state is what the uninterrupted run built. The last run saved
    # whole every user it met; one that only a killed run met has a stale row, or none.
    crashed_states, steady_states = _feature_states(crashed), _feature_states(Database(steady_url))
    assert len(steady_states) == len(crashed_tables["users"])
    whole = {user_id: saved for user_id, saved in crashed_states.items() if saved[0] == steady_states[user_id][0]}
    assert len(whole) > 0.8 * len(steady_states), (len(whole), len(crashed_states), len(steady_states))
    assert {user_id: steady_states[user_id] for user_id in whole} == whole
