"""Generator -> Kafka -> the real `analytics process` -> Postgres, counted exactly."""

from __future__ import annotations

import pytest

from tests.integration.platform import Database, analytics, expected_users, platform_env, produce_workload

pytestmark = pytest.mark.integration


def test_every_record_is_stored_once_or_dead_lettered(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    workload = produce_workload(env, 20_000, seed=7)

    result = analytics("process", "--until-caught-up", env=env, timeout=180)

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    db = Database(database_url)
    assert db.scalar("SELECT count(*) FROM events") == len(workload.valid) == 20_000
    assert db.scalar("SELECT count(*) FROM failed_events") == workload.malformed == 50
    assert db.users() == expected_users(workload.valid, db.event_times())
    kinds = dict(db.rows("SELECT error_type, count(*) FROM failed_events GROUP BY 1"))
    assert kinds == {"deserialize": 30, "schema": 20}
    # every offset of every partition accounted for: stored, a retry, or dead-lettered
    assert db.scalar("SELECT sum(next_offset) FROM consumer_offsets") == workload.records


def test_a_second_run_over_the_same_log_changes_nothing(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    produce_workload(env, 3_000, seed=11)
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    db = Database(database_url)
    before = (db.users(), db.scalar("SELECT count(*) FROM events"), db.scalar("SELECT count(*) FROM failed_events"))

    # Forget the committed offsets: the whole log is read again (at-least-once delivery).
    db.execute("DELETE FROM consumer_offsets")
    assert analytics("process", "--until-caught-up", env=env).returncode == 0

    after = (db.users(), db.scalar("SELECT count(*) FROM events"), db.scalar("SELECT count(*) FROM failed_events"))
    assert after == before


def test_two_processes_share_the_partitions_and_store_everything_once(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    workload = produce_workload(env, 6_000, seed=13)

    result = analytics("process", "--processes", "2", "--until-caught-up", env=env, timeout=180)

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    db = Database(database_url)
    assert db.scalar("SELECT count(*) FROM events") == len(workload.valid)
    assert db.scalar("SELECT count(*) FROM failed_events") == workload.malformed
    assert db.users() == expected_users(workload.valid, db.event_times())
    assert db.scalar("SELECT count(*) FROM consumer_offsets") == 3


def test_configured_services_are_used_and_nothing_embedded_starts(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)

    result = analytics("up", "--events", "1500", "--exit-when-done", env=env, timeout=180)

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert Database(database_url).scalar("SELECT count(*) FROM events") == 1500
    embedded = tmp_path / "embedded"
    assert not (embedded / "postgres").exists() and not (embedded / "broker.json").exists()
