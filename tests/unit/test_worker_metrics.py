"""Worker metrics move with each committed batch and each poll of the log end."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Histogram

from application.messages import BatchOutcome
from application.user_states import LOADED_AS
from entrypoints.histograms import observe_many
from entrypoints.worker_metrics import LATENCY_BUCKETS, WorkerMetrics
from tests.factories import batch, make_event, received

MODEL = "if-20260101T000000-0badcafe"
P0 = {"partition": "0"}


def test_each_batch_moves_the_counters_of_its_partition_by_type_and_reason():
    metrics = WorkerMetrics()
    events = [received(make_event(), offset=i) for i in range(4)]
    first = BatchOutcome(
        3, 1, 2, 1, 1, MODEL, 0.006, stored_by_type={"page_view": 2, "purchase": 1}, failed_by_type={"schema": 2},
        states_loaded={"saved": 2, "new": 1},
    )  # fmt: skip
    metrics.observe(batch(events), first)
    second = BatchOutcome(1, 0, 0, 0, 0, None, 0.0, {"page_view": 1}, states_loaded={"saved": 1, "caught_up": 1})
    metrics.observe(batch(events[:1], next_offset=9), second)

    value = metrics.registry.get_sample_value
    assert value("analytics_events_processed_total", {**P0, "event_type": "page_view"}) == 3
    assert value("analytics_events_processed_total", {**P0, "event_type": "purchase"}) == 1
    assert value("analytics_events_duplicate_total", P0) == 1
    assert value("analytics_events_dead_lettered_total", {**P0, "error_type": "schema"}) == 2
    assert value("analytics_events_late_total", P0) == 1
    assert value("analytics_anomalies_total", P0) == 1
    loaded = {how: value("analytics_user_states_loaded_total", {**P0, "how": how}) for how in LOADED_AS}
    assert loaded == {"saved": 3, "caught_up": 1, "rebuilt": None, "new": 1}
    assert value("analytics_committed_offset", P0) == 9
    assert value("analytics_batch_events_count", P0) == 2
    assert value("analytics_batch_events_sum", P0) == 5
    assert value("analytics_db_write_seconds_count", P0) == 2
    assert value("analytics_scoring_seconds_count", P0) == 2
    assert value("analytics_scoring_seconds_sum", P0) == 0.006
    assert value("analytics_anomaly_model_info", {"version": MODEL}) == 1


def test_a_new_model_version_replaces_the_old_one():
    metrics = WorkerMetrics()
    events = [received(make_event())]
    metrics.observe(batch(events), BatchOutcome(1, 0, 0, model_version="if-1"))
    metrics.observe(batch(events), BatchOutcome(1, 0, 0, model_version="if-2"))
    value = metrics.registry.get_sample_value
    assert value("analytics_anomaly_model_info", {"version": "if-2"}) == 1
    assert value("analytics_anomaly_model_info", {"version": "if-1"}) is None


def test_lag_is_the_log_end_minus_what_is_committed():
    metrics = WorkerMetrics()
    value = metrics.registry.get_sample_value
    # After a restart, before any commit, the reader's position stands in for the commit.
    metrics.log_end(0, 1_000, 400)
    assert value("analytics_consumer_lag", P0) == 600
    metrics.observe(batch([received(make_event(), offset=899)]), BatchOutcome(1, 0, 0))
    assert value("analytics_consumer_lag", P0) == 100
    metrics.log_end(0, 1_500, 1_200)
    assert value("analytics_consumer_lag", P0) == 600
    assert value("analytics_log_end_offset", P0) == 1_500


def test_end_to_end_latency_runs_from_event_time_to_the_commit():
    metrics = WorkerMetrics()
    committed = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    times = [committed - timedelta(seconds=s) for s in (0.02, 0.3, 0.3, 7.0)]
    outcome = BatchOutcome(4, 0, 0, event_times=times)
    metrics.observe(replace(batch([received(make_event())]), started=0.0), outcome, committed_at=committed)
    value = metrics.registry.get_sample_value
    bucket = "analytics_end_to_end_latency_seconds_bucket"
    assert value(bucket, {**P0, "le": "0.025"}) == 1
    assert value(bucket, {**P0, "le": "0.5"}) == 3
    assert value(bucket, {**P0, "le": "5.0"}) == 3
    assert value(bucket, {**P0, "le": "10.0"}) == 4
    assert value("analytics_end_to_end_latency_seconds_sum", P0) == pytest.approx(7.62)
    assert value("analytics_batch_processing_seconds_count", P0) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_observing_many_equals_observing_one_by_one(seed):
    rng = random.Random(seed)
    values = [rng.choice([0.0, 0.01, 0.5, 1.0, 3600.0, 9e9]) if rng.random() < 0.3 else rng.expovariate(2.0)
              for _ in range(500)]  # fmt: skip
    one, many = (Histogram("h", "h", buckets=LATENCY_BUCKETS, registry=CollectorRegistry()) for _ in range(2))
    for v in values:
        one.observe(v)
    observe_many(many, values)
    assert [s.value for s in next(iter(many.collect())).samples] == pytest.approx(
        [s.value for s in next(iter(one.collect())).samples]
    )
