"""Prometheus metrics of a dataflow process, served on its own port.

Updated once per committed batch (from the sink's `on_recorded`) and once per poll (the log
end), so they cost nothing per event but one timestamp. Each process of a cluster serves its
own registry on `metrics_port + process_id`: Prometheus scrapes every process and sums, so no
state is shared between processes and none can be lost or counted twice by a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server
from prometheus_client.gc_collector import GCCollector

from application.messages import BatchOutcome, IngestBatch
from entrypoints.histograms import observe_many

SCORING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Event time to commit: milliseconds when live, minutes for late or replayed traffic.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
# Log append (produce) to commit: fine around the 100 ms the platform promises at 10k events/s.
INGEST_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1,
    0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
BATCH_EVENTS_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # CPU and memory of this worker process
        GCCollector(registry=r)
        by_partition = ["partition"]
        self.processed = Counter(
            "analytics_events_processed", "Events newly stored", ["partition", "event_type"], registry=r
        )
        self.duplicates = Counter(
            "analytics_events_duplicate", "Redelivered events recognised and skipped", by_partition, registry=r
        )
        self.dead_lettered = Counter(
            "analytics_events_dead_lettered", "Records sent to failed_events", ["partition", "error_type"], registry=r
        )
        self.late = Counter("analytics_events_late", "Stored events that arrived late", by_partition, registry=r)
        self.anomalies = Counter("analytics_anomalies", "Events flagged as anomalies", by_partition, registry=r)
        self.user_states_loaded = Counter(
            "analytics_user_states_loaded",
            "Users' feature states read into a scorer's memory: saved, caught_up (a saved one plus the events"
            " stored after it), rebuilt (from the user's latest stored events) or new",
            ["partition", "how"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            "analytics_batch_processing_seconds",
            "From reading a batch's records to committing it",
            by_partition,
            buckets=BATCH_SECONDS_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "analytics_end_to_end_latency_seconds",
            "From an event's time (clock-skew corrected) to the commit that stored it",
            by_partition,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ingest_latency = Histogram(
            "analytics_ingest_latency_seconds",
            "From the record's log timestamp (when it was produced) to the commit that stored it",
            by_partition,
            buckets=INGEST_LATENCY_BUCKETS,
            registry=r,
        )
        self.db_write_seconds = Histogram(
            "analytics_db_write_seconds",
            "A batch's database transaction (events, projections, scoring, offset)",
            by_partition,
            buckets=BATCH_SECONDS_BUCKETS,
            registry=r,
        )
        self.batch_events = Histogram(
            "analytics_batch_events",
            "Records per committed batch",
            by_partition,
            buckets=BATCH_EVENTS_BUCKETS,
            registry=r,
        )
        self.scoring_seconds = Histogram(
            "analytics_scoring_seconds",
            "Time to score one batch (features, both detectors, reasons)",
            by_partition,
            buckets=SCORING_BUCKETS,
            registry=r,
        )
        self.scoring_seconds_per_event = Gauge(
            "analytics_scoring_seconds_per_event", "Scoring time per event, latest batch", by_partition, registry=r
        )
        self.model = Gauge(
            "analytics_anomaly_model_info", "The batch anomaly model in service (1)", ["version"], registry=r
        )
        self.committed_offset = Gauge(
            "analytics_committed_offset", "Next offset to read, committed with the data", by_partition, registry=r
        )
        self.log_end_offset = Gauge(
            "analytics_log_end_offset", "The partition's log-end offset, as last fetched", by_partition, registry=r
        )
        self.lag = Gauge(
            "analytics_consumer_lag",
            "Records in the log not yet committed (log end - committed)",
            by_partition,
            registry=r,
        )
        self._lock = threading.Lock()  # the log end comes from the reader, commits from the writer thread
        self._log_end: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self._model_version: str | None = None

    def observe(self, batch: IngestBatch, outcome: BatchOutcome, committed_at: datetime | None = None) -> None:
        partition = str(batch.position.partition)
        for event_type, count in outcome.stored_by_type.items():
            self.processed.labels(partition, event_type).inc(count)
        for error_type, count in outcome.failed_by_type.items():
            self.dead_lettered.labels(partition, error_type).inc(count)
        self.duplicates.labels(partition).inc(outcome.duplicates)
        self.late.labels(partition).inc(outcome.late)
        self.anomalies.labels(partition).inc(outcome.anomalies)
        for how, count in outcome.states_loaded.items():
            self.user_states_loaded.labels(partition, how).inc(count)
        self.batch_events.labels(partition).observe(len(batch.events) + len(batch.failures))
        self.db_write_seconds.labels(partition).observe(outcome.write_seconds)
        if batch.started is not None:
            self.batch_seconds.labels(partition).observe(time.perf_counter() - batch.started)
        if committed_at is not None and outcome.event_times:
            self.observe_latency(partition, committed_at, outcome.event_times, outcome.received_times)
        if outcome.stored:
            self.scoring_seconds.labels(partition).observe(outcome.scoring_seconds)
            self.scoring_seconds_per_event.labels(partition).set(outcome.scoring_seconds / outcome.stored)
        if outcome.model_version is not None and outcome.model_version != self._model_version:
            self._serve_model(outcome.model_version)
        with self._lock:
            self._committed[batch.position.partition] = batch.position.next_offset
            self._update_lag(batch.position.partition)

    def observe_latency(
        self, partition: str, committed_at: datetime, event_times: Sequence[datetime], received: Sequence[datetime]
    ) -> None:
        now = committed_at.timestamp()
        observe_many(self.end_to_end.labels(partition), [now - t.timestamp() for t in event_times])
        observe_many(self.ingest_latency.labels(partition), [now - t.timestamp() for t in received])

    def log_end(self, partition: int, offset: int, read_up_to: int) -> None:
        """From the reader: the partition's log end as of its last fetch, and how far it has read.

        Until this run commits a batch of the partition, what it has read stands in for the
        commit: after a restart, a partition with nothing new to do shows no lag."""
        with self._lock:
            self._log_end[partition] = offset
            self._committed.setdefault(partition, read_up_to)
            self._update_lag(partition)

    def _update_lag(self, partition: int) -> None:
        end, committed = self._log_end.get(partition), self._committed.get(partition)
        label = str(partition)
        if committed is not None:
            self.committed_offset.labels(label).set(committed)
        if end is not None:
            self.log_end_offset.labels(label).set(end)
            self.lag.labels(label).set(max(0, end - (committed or 0)))

    def _serve_model(self, version: str) -> None:
        if self._model_version is not None:
            self.model.remove(self._model_version)
        self.model.labels(version).set(1)
        self._model_version = version

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        start_http_server(port, addr=host, registry=self.registry)
