"""Two dataflow processes over three partitions, one killed mid-stream: every projection is
exact, equals an independent computation, and equals what `analytics replay` rebuilds."""

from __future__ import annotations

import signal

import psutil
import pytest

from tests.integration.expected import expected_projections, stored_projections
from tests.integration.platform import (
    Database,
    analytics,
    expected_users,
    platform_env,
    produce_workload,
    start_analytics,
)

pytestmark = pytest.mark.integration

COUNT = 24_000


def _kill_one_member_mid_stream(env, db: Database, log) -> None:
    cluster = start_analytics("process", "--processes", "2", env=env, log=log)
    reached = db.wait_for("SELECT count(*) FROM events", COUNT // 3)
    members = psutil.Process(cluster.pid).children()
    assert len(members) == 2
    members[0].send_signal(signal.SIGKILL)
    assert cluster.wait(timeout=60) != 0, "the cluster notices a dead member and stops"
    assert reached < COUNT, "the kill must land mid-stream"


def test_projections_survive_a_killed_worker_and_equal_an_independent_computation(
    kafka_bootstrap, database_url, tmp_path
):
    env = platform_env(kafka_bootstrap, database_url, tmp_path, ANALYTICS_PROCESSOR_BATCH_SIZE="400")
    workload = produce_workload(env, COUNT, seed=31, shift_every=37)
    db = Database(database_url)

    _kill_one_member_mid_stream(env, db, tmp_path / "processor.log")
    restarted = analytics("process", "--processes", "2", "--until-caught-up", env=env, timeout=240)
    assert restarted.returncode == 0, restarted.stderr.decode()[-3000:]

    received = dict(db.rows("SELECT event_id::text, received_at FROM events"))
    live = stored_projections(db)
    assert db.scalar("SELECT count(*) FROM events") == COUNT
    assert db.scalar("SELECT count(*) FROM events WHERE late") > 0
    assert db.scalar("SELECT count(*) FROM events WHERE future_clamped") > 0
    assert all(live.values()), "every projection has rows"
    assert live == expected_projections(workload.valid, received)
    assert db.users() == expected_users(workload.valid, db.event_times())


def test_replay_rebuilds_projections_equal_to_the_live_ones(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    produce_workload(env, 5_000, seed=41, shift_every=23)
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    db = Database(database_url)
    live = stored_projections(db), db.users()

    replayed = analytics("replay", env=env)

    assert replayed.returncode == 0, replayed.stderr.decode()[-3000:]
    assert (stored_projections(db), db.users()) == live


def test_rolling_rates_and_session_statistics_views_read_the_projections(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    produce_workload(env, 2_000, seed=43)
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    db = Database(database_url)

    on_time = db.scalar("SELECT count(*) FROM events WHERE NOT late")
    busiest = db.scalar("SELECT round(max(events_per_second) * 300) FROM rolling_event_rates")
    assert 0 < busiest <= on_time
    assert db.scalar("SELECT sum(sessions) FROM daily_session_stats") == db.scalar("SELECT count(*) FROM sessions")
    bounce = db.scalar("SELECT avg((events = 1)::int) FROM sessions")
    assert db.scalar("SELECT max(bounce_rate) FROM daily_session_stats") >= bounce
