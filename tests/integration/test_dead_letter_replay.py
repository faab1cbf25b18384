"""`analytics dlq replay`: fixed dead letters come back once, broken ones fail again."""

from __future__ import annotations

import json

import pytest

from tests.factories import event_doc
from tests.integration.platform import Database, analytics, platform_env

pytestmark = pytest.mark.integration


def _now_doc(**overrides) -> dict:
    from datetime import UTC, datetime

    return event_doc(timestamp=datetime.now(UTC).isoformat(), **overrides)


def test_fixed_dead_letters_are_stored_once_and_broken_ones_fail_again(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    wrong_country = _now_doc(country="us")
    lines = [json.dumps(_now_doc()) for _ in range(3)] + [json.dumps(wrong_country), "{not json"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    assert analytics("produce", str(tmp_path / "in.jsonl"), env=env).returncode == 0
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    db = Database(database_url)
    assert (db.scalar("SELECT count(*) FROM events"), db.scalar("SELECT count(*) FROM failed_events")) == (3, 2)

    # An operator fixes the payload in place, then replays only schema failures.
    db.execute("UPDATE failed_events SET raw_data = replace(raw_data, '\"us\"', '\"US\"') WHERE error_type = 'schema'")
    replay = analytics("dlq", "replay", "--error-type", "schema", env=env)
    assert replay.returncode == 0 and b"replayed 1" in replay.stderr
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    assert db.scalar(f"SELECT count(*) FROM events WHERE event_id = '{wrong_country['event_id']}'") == 1

    # Everything else: the broken line is dead-lettered again; nothing is replayed twice.
    assert b"replayed 1" in analytics("dlq", "replay", env=env).stderr
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    assert b"replayed 1" in analytics("dlq", "replay", env=env).stderr  # the new dead letter of the broken line
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    assert db.scalar("SELECT count(*) FROM events") == 4
    assert db.scalar("SELECT count(*) FROM failed_events WHERE error_type = 'deserialize'") == 3

    # Replaying a dead letter whose event is already stored creates no duplicate.
    db.execute("UPDATE failed_events SET replayed_at = NULL WHERE error_type = 'schema'")
    assert analytics("dlq", "replay", "--error-type", "schema", env=env).returncode == 0
    assert analytics("process", "--until-caught-up", env=env).returncode == 0
    assert db.scalar("SELECT count(*) FROM events") == 4
    assert db.scalar("SELECT total_events FROM users WHERE user_id = 'user_1'") == 4
