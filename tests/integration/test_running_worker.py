"""A long-running `analytics process`: it serves its metrics, and picks up a newly trained
batch model without a restart."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.loopback import free_port
from tests.integration.handmade_stream import HandmadeStream, LabelledRecord
from tests.integration.platform import STOP_TIMEOUT, Database, analytics, platform_env, start_analytics

pytestmark = pytest.mark.integration


def _metrics(port: int) -> dict[tuple[str, tuple], float]:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def _total(metrics: dict, name: str) -> float:
    return sum(v for (n, _), v in metrics.items() if n == name)


def _wait_for_stored(port: int, count: int, worker, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, "the worker exited"
        metrics = _metrics(port)
        if _total(metrics, "analytics_events_processed_total") >= count:
            return metrics
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} events stored after {timeout} s: {_metrics(port)}")


def _wait_for(port: int, condition, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = _metrics(port)
        if metrics and condition(metrics):
            return metrics
        time.sleep(0.5)
    raise AssertionError(f"metrics never met the condition: {_metrics(port)}")


def _produce(env: dict[str, str], records: list[LabelledRecord], path: Path) -> None:
    path.write_text("".join(r.line + "\n" for r in records))
    assert analytics("produce", str(path), env=env).returncode == 0


def test_worker_serves_metrics_and_swaps_in_a_new_model_without_restart(kafka_bootstrap, database_url, tmp_path):
    port = free_port()
    env = platform_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        ANALYTICS_PROCESSOR_METRICS_PORT=str(port),
        ANALYTICS_PROCESSOR_MODEL_POLL_S="1",
    )
    stream = HandmadeStream(users=200, seed=8, start=datetime.now(UTC) - timedelta(hours=4))
    worker = start_analytics("process", env=env, log=tmp_path / "worker.log")
    try:
        _produce(env, stream.take(5_000), tmp_path / "first.jsonl")
        before = _wait_for_stored(port, 5_000, worker)
        assert not any(n == "analytics_anomaly_model_info" and labels for n, labels in before)  # no model yet

        trained = analytics("train", "anomaly", env=env, timeout=180)
        assert trained.returncode == 0, trained.stderr.decode()[-2000:]
        version = json.loads(trained.stdout.decode().splitlines()[-1])["model_version"]
        time.sleep(1.5)  # past the poll interval: the next batch looks for a newer model

        second = stream.take(3_000)
        _produce(env, second, tmp_path / "second.jsonl")
        after = _wait_for_stored(port, 8_000, worker)
        caught_up = _wait_for(port, lambda m: _total(m, "analytics_consumer_lag") == 0)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=STOP_TIMEOUT)

    assert after[("analytics_anomaly_model_info", (("version", version),))] == 1
    processed = _total(caught_up, "analytics_events_processed_total")
    assert _total(caught_up, "analytics_end_to_end_latency_seconds_count") == processed
    assert _total(caught_up, "analytics_log_end_offset") == _total(caught_up, "analytics_committed_offset") >= processed
    assert _total(caught_up, "analytics_batch_events_sum") >= processed
    assert _total(caught_up, "analytics_db_write_seconds_count") == _total(caught_up, "analytics_batch_events_count")
    assert _total(caught_up, "analytics_batch_processing_seconds_count") > 0
    # Every stored event is republished, enriched, on user-analytics.
    assert caught_up[("analytics_events_delivered_total", (("source", "processor"),))] >= processed
    assert _total(after, "analytics_scoring_seconds_count") > 0
    assert _total(after, "analytics_events_dead_lettered_total") == 0
    assert _total(after, "analytics_anomalies_total") == Database(database_url).scalar("SELECT count(*) FROM anomalies")
    db = Database(database_url)
    stored = dict(db.rows("SELECT event_id::text, anomaly_score FROM events"))
    assert all(stored[r.doc["event_id"]] is not None for r in second)
    versions = {v for (v,) in db.rows("SELECT DISTINCT model_version FROM anomalies WHERE model_version IS NOT NULL")}
    assert versions <= {version}


def test_worker_trains_its_first_model_once_enough_events_are_stored(kafka_bootstrap, database_url, tmp_path):
    port = free_port()
    env = platform_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        ANALYTICS_PROCESSOR_METRICS_PORT=str(port),
        ANALYTICS_PROCESSOR_MODEL_POLL_S="1",
        ANALYTICS_PROCESSOR_AUTO_TRAIN="true",
        ANALYTICS_PROCESSOR_TRAIN_MIN_EVENTS="2000",
        ANALYTICS_PROCESSOR_TRAIN_RETRY_S="1",
    )
    stream = HandmadeStream(users=150, seed=9, start=datetime.now(UTC) - timedelta(hours=4))
    worker = start_analytics("process", env=env, log=tmp_path / "worker.log")
    try:
        _produce(env, stream.take(2_500), tmp_path / "first.jsonl")
        _wait_for_stored(port, 2_500, worker)
        deadline, trickle, in_service = time.monotonic() + 120, 0, []
        while not in_service and time.monotonic() < deadline:
            trickle += 1
            _produce(env, stream.take(50), tmp_path / f"trickle-{trickle}.jsonl")  # batches that look for a model
            time.sleep(1)
            in_service = [labels for n, labels in _metrics(port) if n == "analytics_anomaly_model_info" and labels]
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=STOP_TIMEOUT)

    assert in_service, (tmp_path / "worker.log").read_text()[-3000:]
    (version,) = [dict(labels)["version"] for labels in in_service]
    models = Database(database_url).rows("SELECT version, training_events FROM models")
    assert models[0][0] == version and models[0][1] >= 2_000
    assert (tmp_path / "models" / "if" / f"{version}.joblib").exists()
