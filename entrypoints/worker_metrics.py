"""Prometheus metrics of a dataflow process, served on its own port.

Updated once per committed batch (from the sink's `on_recorded`), so they cost nothing per
event. Each process of a cluster serves its own registry on `metrics_port + process_id`:
Prometheus scrapes every process and sums, so no cross-process state is needed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from application.messages import BatchOutcome, IngestBatch

SCORING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.stored = Counter("analytics_events_stored", "Events newly stored", ["partition"], registry=r)
        self.duplicates = Counter(
            "analytics_events_duplicate", "Redelivered events recognised and skipped", ["partition"], registry=r
        )
        self.dead_lettered = Counter(
            "analytics_events_dead_lettered", "Records sent to failed_events", ["partition"], registry=r
        )
        self.late = Counter("analytics_events_late", "Stored events that arrived late", ["partition"], registry=r)
        self.anomalies = Counter("analytics_anomalies", "Events flagged as anomalies", ["partition"], registry=r)
        self.scoring_seconds = Histogram(
            "analytics_scoring_seconds",
            "Time to score one batch (features, both detectors, reasons)",
            ["partition"],
            buckets=SCORING_BUCKETS,
            registry=r,
        )
        self.scoring_seconds_per_event = Gauge(
            "analytics_scoring_seconds_per_event", "Scoring time per event, latest batch", ["partition"], registry=r
        )
        self.model = Info("analytics_anomaly_model", "The batch anomaly model in service", registry=r)
        self.committed_offset = Gauge(
            "analytics_committed_offset", "Next offset to read, committed with the data", ["partition"], registry=r
        )

    def observe(self, batch: IngestBatch, outcome: BatchOutcome) -> None:
        partition = str(batch.position.partition)
        self.stored.labels(partition).inc(outcome.stored)
        self.duplicates.labels(partition).inc(outcome.duplicates)
        self.dead_lettered.labels(partition).inc(outcome.failed)
        self.late.labels(partition).inc(outcome.late)
        self.anomalies.labels(partition).inc(outcome.anomalies)
        self.committed_offset.labels(partition).set(batch.position.next_offset)
        if outcome.stored:
            self.scoring_seconds.labels(partition).observe(outcome.scoring_seconds)
            self.scoring_seconds_per_event.labels(partition).set(outcome.scoring_seconds / outcome.stored)
        if outcome.model_version is not None:
            self.model.info({"version": outcome.model_version})

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        start_http_server(port, addr=host, registry=self.registry)
