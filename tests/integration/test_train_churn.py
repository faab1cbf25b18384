"""`analytics train churn` on a real database: events in through the write path, scores out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from adapters.ml.model_store import FileModelRegistry
from adapters.postgres.churn import PostgresChurnEventSource, save_churn_scores
from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.queries import PostgresAnalyticsQueries
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.ingest import Recorder
from application.traffic import TrafficProfile
from application.traffic_anomalies import generate_labelled
from tests.factories import batch, received
from tests.integration.platform import analytics, platform_env

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
BATCH = 1_000


def _store_generated(engine, *, count: int, users: int, seed: int) -> tuple[set[str], frozenset[str]]:
    """Generated events recorded through `Recorder` (events and projections, as the pipeline does)."""
    labelled = generate_labelled(count, seed=seed, start=START, churn_share=0.3, profile=TrafficProfile(users=users))
    events = [le.event for le in labelled]
    record = Recorder(lambda: PostgresUnitOfWork(engine), "test/churn")
    for first in range(0, len(events), BATCH):
        chunk = [received(e, offset=first + i) for i, e in enumerate(events[first : first + BATCH])]
        record(batch(chunk), now=START)
    return {e.user_id for e in events}, labelled.churned_users


@pytest.fixture
def engine(database_url):
    engine = create_postgres_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


def test_train_churn_scores_every_user_and_versions_the_model(engine, database_url, kafka_bootstrap, tmp_path):
    users, _ = _store_generated(engine, count=5_000, users=50, seed=8)
    env = platform_env(kafka_bootstrap, database_url, tmp_path / "data")

    result = analytics("train", "churn", env=env, timeout=120)

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    version = summary["model_version"]
    assert summary["scored_users"] == len(users)
    assert 0.0 <= summary["validation_roc_auc"] <= 1.0
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT user_id, probability, model_version FROM churn_scores")).all()
    assert {r.user_id for r in rows} == users
    assert all(0.0 <= r.probability <= 1.0 for r in rows)
    assert {r.model_version for r in rows} == {version}

    registry = FileModelRegistry(tmp_path / "data" / "models")
    assert (tmp_path / "data" / "models" / "churn" / f"{version}.joblib").is_file()
    assert registry.latest("churn") == version
    info = registry.info(version)
    assert info["metrics"]["validation_roc_auc"] == summary["validation_roc_auc"]
    assert info["cutoffs"]["train_cutoff"] < info["cutoffs"]["validation_cutoff"]
    model = registry.load(version)
    assert len(model.predict_proba([[0.0] * len(info["params"]["features"])])) == 1

    some_user = sorted(users)[0]  # what GET /v1/users/{user_id} shows
    probability = {r.user_id: r.probability for r in rows}[some_user]
    assert PostgresAnalyticsQueries(engine).user(some_user).churn_probability == probability


def test_train_churn_without_events_says_so(database_url, kafka_bootstrap, tmp_path):
    result = analytics("train", "churn", env=platform_env(kafka_bootstrap, database_url, tmp_path / "data"))

    assert result.returncode == 1
    assert b"cannot train a churn model" in result.stderr


def test_event_source_groups_each_users_events_in_time_order(engine):
    users, _ = _store_generated(engine, count=1_200, users=20, seed=9)
    source = PostgresChurnEventSource(engine, page_size=97)  # pages split users

    t0, t1 = source.time_span()
    everything = source.events_by_user(until=t1)
    earlier = source.events_by_user(until=t0)

    assert set(everything) == users
    assert sum(len(evs) for evs in everything.values()) == 1_200
    assert all([e[0] for e in evs] == sorted(e[0] for e in evs) for evs in everything.values())
    assert sum(len(evs) for evs in earlier.values()) == 1 and all(e[0] == t0 for evs in earlier.values() for e in evs)
    time_, kind, _, session = next(iter(everything.values()))[0]
    assert time_.tzinfo is not None and isinstance(kind, str) and isinstance(session, str)


def test_saving_scores_upserts_and_a_later_run_wins(engine):
    early, late = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)

    save_churn_scores(engine, {"a": 0.2, "b": 0.9}, "churn-20250101T000000-00000001", late)
    save_churn_scores(engine, {"a": 0.7, "c": 0.1}, "churn-20240101T000000-00000002", early)  # an older run
    save_churn_scores(engine, {"b": 0.4}, "churn-20250103T000000-00000003", late)

    with engine.connect() as conn:
        stored = conn.execute(text("SELECT user_id, probability, model_version FROM churn_scores"))
        rows = {user: (probability, version) for user, probability, version in stored}
    assert rows == {
        "a": (0.2, "churn-20250101T000000-00000001"),
        "b": (0.4, "churn-20250103T000000-00000003"),
        "c": (0.1, "churn-20240101T000000-00000002"),
    }
    with pytest.raises(ValueError):
        save_churn_scores(engine, {"a": 1.5}, "v", late)
