"""Worker metrics move with each committed batch."""

from __future__ import annotations

from application.messages import BatchOutcome
from entrypoints.worker_metrics import WorkerMetrics
from tests.factories import batch, make_event, received


def test_each_batch_moves_the_counters_of_its_partition():
    metrics = WorkerMetrics()
    events = [received(make_event(), offset=i) for i in range(4)]
    metrics.observe(batch(events), BatchOutcome(3, 1, 2, 1, 1, "if-20260101T000000-0badcafe", 0.006))
    metrics.observe(batch(events[:1], next_offset=9), BatchOutcome(1, 0, 0, 0, 0, None, 0.0))

    value = metrics.registry.get_sample_value
    labels = {"partition": "0"}
    assert value("analytics_events_stored_total", labels) == 4
    assert value("analytics_events_duplicate_total", labels) == 1
    assert value("analytics_events_dead_lettered_total", labels) == 2
    assert value("analytics_events_late_total", labels) == 1
    assert value("analytics_anomalies_total", labels) == 1
    assert value("analytics_committed_offset", labels) == 9
    assert value("analytics_scoring_seconds_count", labels) == 2
    assert value("analytics_scoring_seconds_sum", labels) == 0.006
    assert value("analytics_anomaly_model_info", {"version": "if-20260101T000000-0badcafe"}) == 1
