"""`analytics train anomaly` on a real database, its Postgres event source, and the `models` migration.

Events go in through the write path (`Recorder`, as `test_train_churn` does); the command reads
them back, fits the Isolation Forest, saves it under the data directory and records it in `models`.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.ml.model_store import FileModelRegistry
from adapters.postgres.anomaly_training import PostgresAnomalyEventSource, PostgresModelCatalog
from adapters.postgres.engine import create_postgres_engine
from adapters.postgres.unit_of_work import PostgresUnitOfWork
from application.ingest import Recorder
from application.traffic_anomalies import LabelledEvent, generate_labelled
from domain.detection import BATCH_DETECTOR, PREPARED_NAMES, prepare
from domain.features import extract
from tests.factories import batch, received
from tests.integration.platform import analytics, platform_env

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
BATCH = 1_000


def _store_generated(engine, *, count: int, seed: int, rate: float = 10.0) -> list[tuple[LabelledEvent, datetime]]:
    """Generated labelled events recorded through `Recorder` (events and projections, as the pipeline does),
    each with its event time (its timestamp corrected by the client's clock skew when it sent `sent_at`)."""
    labelled = list(generate_labelled(count, seed=seed, start=START, rate=rate, anomaly_rate=0.01))
    record = Recorder(lambda: PostgresUnitOfWork(engine), "test/anomaly")
    stored = []
    for first in range(0, len(labelled), BATCH):
        chunk = [received(le.event, offset=first + i) for i, le in enumerate(labelled[first : first + BATCH])]
        record(batch(chunk), now=START)
        stored.extend((le, r.event_time) for le, r in zip(labelled[first : first + BATCH], chunk, strict=True))
    return stored


def _write_labels(path: Path, labelled: list[LabelledEvent]) -> None:
    """The ground truth as `analytics generate --labels` writes it."""
    with path.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["event_id", "label", "kind"])
        rows.writerows([le.event.event_id, int(le.anomaly is not None), le.anomaly or ""] for le in labelled)


@pytest.fixture
def engine(database_url):
    engine = create_postgres_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


def test_train_anomaly_versions_the_model_in_the_data_dir_and_the_models_table(
    engine, database_url, kafka_bootstrap, tmp_path
):
    stored = _store_generated(engine, count=4_000, seed=21)
    labelled = [le for le, _ in stored]
    labels = tmp_path / "labels.csv"
    _write_labels(labels, labelled)
    data_dir = tmp_path / "data"
    env = platform_env(kafka_bootstrap, database_url, data_dir)

    result = analytics(
        "train", "anomaly", "--labels", str(labels), "--min-events", "1000", "--json", str(tmp_path / "report.json"),
        env=env, timeout=180,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert json.loads((tmp_path / "report.json").read_text()) == summary
    version = summary["model_version"]
    assert summary["kind"] == BATCH_DETECTOR and summary["training_events"] == 4_000
    assert summary["labelled_events"] == 4_000
    assert summary["roc_auc"] > 0.8 and 0.0 < summary["pr_auc"] <= 1.0
    assert summary["params"]["max_samples"] == 1024
    newest = max(t for _, t in stored)
    assert datetime.fromisoformat(summary["window_end"]) == newest
    assert datetime.fromisoformat(summary["window_start"]) == newest - timedelta(hours=24)

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM models")).mappings().all()
    [row] = rows
    assert (row["version"], row["kind"], row["training_events"]) == (version, BATCH_DETECTOR, 4_000)
    assert tuple(row["features"]) == PREPARED_NAMES
    assert row["metrics"]["roc_auc"] == summary["roc_auc"]
    assert row["params"]["window_seconds"] == 24 * 3600

    model_file = data_dir / "models" / BATCH_DETECTOR / f"{version}.joblib"
    assert model_file.is_file() and summary["model_path"] == str(model_file)
    registry = FileModelRegistry(data_dir / "models").for_kind(BATCH_DETECTOR)
    latest = registry.latest()
    assert latest == PostgresModelCatalog(engine).latest(BATCH_DETECTOR)
    assert latest.version == version
    detector = registry.load(latest)
    features, _ = extract((le.event, t) for le, t in stored[:100])
    scores = detector.score([prepare(f) for f in features])
    assert len(scores) == 100 and all(0.0 <= s <= 1.0 for s in scores)


def test_train_anomaly_with_too_few_events_says_so_and_saves_nothing(engine, database_url, kafka_bootstrap, tmp_path):
    _store_generated(engine, count=300, seed=22)
    data_dir = tmp_path / "data"

    result = analytics("train", "anomaly", env=platform_env(kafka_bootstrap, database_url, data_dir))

    assert result.returncode == 1
    assert b"cannot train an anomaly detector" in result.stderr and b"fewer than the 1,000" in result.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM models")).scalar_one() == 0
    assert not (data_dir / "models" / BATCH_DETECTOR).exists()


def test_event_source_reads_the_window_in_event_time_order(engine):
    stored = _store_generated(engine, count=1_500, seed=23, rate=50.0)
    source = PostgresAnomalyEventSource(engine, page_size=97)  # many pages
    by_id = {le.event.event_id: (le.event, t) for le, t in stored}
    times = sorted(t for _, t in stored)

    assert source.newest_event_time() == times[-1]
    everything = list(source.events_between(times[0], times[-1]))
    assert len(everything) == 1_500
    assert [t for _, t in everything] == times
    assert all((event, t) == by_id[event.event_id] for event, t in everything)
    assert any(event.sent_at is not None for event, _ in everything)  # event times are not all timestamps

    middle = list(source.events_between(times[500], times[999]))  # both ends included
    assert [t for _, t in middle] == times[500:1000]
    assert list(source.events_between(times[-1] + timedelta(seconds=1), times[-1] + timedelta(hours=1))) == []
    assert source.count_after(times[999]) == 500 and source.count_after(times[-1]) == 0


def test_event_source_of_an_empty_store(engine):
    source = PostgresAnomalyEventSource(engine)

    assert source.newest_event_time() is None
    assert list(source.events_between(START, START + timedelta(days=1))) == []
