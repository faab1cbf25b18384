"""Wiring and running the ingest dataflow: one process, or a cluster of processes."""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial

from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow
from bytewax.errors import BytewaxRuntimeError
from opentelemetry import trace

from adapters.child_processes import ForkedChild, fork_child
from adapters.kafka.anomaly_publisher import KafkaAnomalyPublisher
from adapters.kafka.processed_publisher import KafkaProcessedEventPublisher
from adapters.kafka.source import KafkaPartitionedSource
from adapters.kafka.topics import cluster_id, ensure_topics, topic_partitions
from adapters.loopback import free_port
from adapters.telemetry.batch_spans import BatchSpans
from adapters.wire.events import decode_event
from application.decoding import decode_batch
from application.ingest import Recorder
from application.messages import BatchOutcome, IngestBatch, RawMessage
from dataflows.ingest import build_ingest_flow
from dataflows.store_sink import StoreSink
from entrypoints.containers import Container
from entrypoints.gc_pacing import BatchPacedCollector
from entrypoints.producer_metrics import watch_publisher
from entrypoints.stop_signals import listen_for_stop_signals
from entrypoints.worker_metrics import WorkerMetrics

log = logging.getLogger(__name__)

MEMBER_NAME = "dataflow-"  # + process id: the name of each cluster member's process (`ps`, `top`)


def build_processor_flow(
    container: Container,
    *,
    stop_at_end: bool = False,
    metrics: WorkerMetrics | None = None,
    collector: BatchPacedCollector | None = None,
) -> Dataflow:
    """The ingest flow on the configured Kafka topic and event store."""
    settings = container.settings()
    kafka_config = container.gateways.kafka_config()
    topic = settings.kafka.events_topic
    # Offsets belong to one cluster: an embedded broker started anew is a new, empty log.
    consumer = f"{settings.processor.consumer}@{cluster_id(kafka_config)}"
    version = settings.processor_version
    rules = settings.processor.timing_rules()
    clock = container.gateways.clock()
    start_unit_of_work = container.services.unit_of_work

    outputs = (settings.kafka.analytics_topic, settings.kafka.anomalies_topic)
    ensure_topics(kafka_config, {name: settings.kafka.partitions for name in (topic, *outputs)})
    partitions = topic_partitions(kafka_config, topic)
    publisher = None
    if settings.processor.publish_processed:
        publisher = KafkaProcessedEventPublisher(container.gateways.publisher(), settings.kafka.analytics_topic)
    scoring = container.services.scoring()
    anomaly_publisher = None
    if scoring is not None:
        anomaly_publisher = KafkaAnomalyPublisher(container.gateways.publisher(), settings.kafka.anomalies_topic)
    recorder = Recorder(start_unit_of_work, version, rules, publisher, scoring, anomaly_publisher)

    def committed_offsets() -> dict[int, int]:
        with start_unit_of_work() as uow:
            return uow.offsets.committed(consumer, topic)

    spans = BatchSpans(trace.get_tracer("analytics.dataflow"))

    def decode(records: list[RawMessage]) -> IngestBatch:
        started, started_ns = time.perf_counter(), time.time_ns()
        batch = decode_batch(
            records, consumer=consumer, processor_version=version, now=clock.now(), rules=rules, parse=decode_event
        )
        spans.decoded(records, batch, started_ns, time.time_ns())
        return replace(batch, started=started)

    def record(batch: IngestBatch) -> BatchOutcome:
        return recorder(batch, now=clock.now())

    source = KafkaPartitionedSource(
        kafka_config,
        topic,
        start_offsets=committed_offsets,
        batch_size=settings.processor.batch_size,
        stop_at_end=stop_at_end,
        poll_interval=timedelta(milliseconds=settings.processor.poll_interval_ms),
        on_log_end=metrics.log_end if metrics is not None else None,
    )
    if metrics is not None and (publisher is not None or anomaly_publisher is not None):
        watch_publisher(container.gateways.publisher(), "processor", metrics.registry)

    def on_recorded(batch: IngestBatch, outcome: BatchOutcome) -> None:
        spans.recorded(batch, outcome, time.time_ns())
        log_batch(batch, outcome)
        if metrics is not None:
            metrics.observe(batch, outcome, committed_at=clock.now())
        if collector is not None:
            collector.batch_done()

    sink = StoreSink(
        partitions,
        record,
        on_recorded=on_recorded,
        on_closed=recorder.save_scoring_state,
        max_queued=2 * settings.processor.batch_size,  # two full polls, so a backlog still commits 1-2 polls at a time
    )
    return build_ingest_flow(source, sink, decode=decode)


def log_batch(batch: IngestBatch, outcome: BatchOutcome) -> None:
    """One JSON log line per dead letter (they are rare and each needs a look), one per batch."""
    for failure in batch.failures:
        log.warning(
            "event dead-lettered",
            extra={
                "event_id": failure.event_id,
                "error_type": failure.error_type.value,
                "reason": failure.error_reason[:300],
                "partition": failure.source_partition,
                "offset": failure.source_offset,
            },
        )
    log.debug(
        "batch committed",
        extra={
            "partition": batch.position.partition,
            "next_offset": batch.position.next_offset,
            "events": len(batch.events),
            "stored": outcome.stored,
            "duplicates": outcome.duplicates,
            "failed": outcome.failed,
            "late": outcome.late,
            "anomalies": outcome.anomalies,
            "model_version": outcome.model_version,
            "scoring_ms": round(outcome.scoring_seconds * 1000, 1),
            "write_ms": round(outcome.write_seconds * 1000, 1),
        },
    )


def run_in_this_process(
    container: Container,
    *,
    workers: int = 1,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    stop_at_end: bool = False,
) -> None:
    """Run the flow here; with `process_id`/`addresses`, as one member of a cluster.

    With `ANALYTICS_PROCESSOR_METRICS_PORT` set, this process serves Prometheus metrics on that
    port plus its process id (one port per cluster member)."""
    metrics = WorkerMetrics()
    port = container.settings().processor.metrics_port
    if port is not None:
        metrics.serve(port + (process_id or 0))
        log.info("worker metrics served", extra={"port": port + (process_id or 0)})
    collector = BatchPacedCollector()
    flow = build_processor_flow(container, stop_at_end=stop_at_end, metrics=metrics, collector=collector)
    stop_training = threading.Event()
    if container.settings().processor.auto_train and not process_id:  # one trainer per cluster
        retrainer = container.services.retrainer()
        threading.Thread(target=retrainer.run, args=(stop_training,), name="retrainer", daemon=True).start()
    collector.start()
    listen_for_stop_signals()
    try:
        cli_main(flow, workers_per_process=workers, process_id=process_id, addresses=addresses)
    except BytewaxRuntimeError as error:
        # Ctrl-C / SIGINT surfaces as "signal received": a requested stop, not a failure.
        # Nothing is lost: what was not committed is read again on the next start.
        if "signal received" not in str(error):
            raise
        log.info("dataflow stopped by signal")
    finally:
        stop_training.set()


def run_cluster(processes: int, member: Callable[[int, list[str]], int], preload: Sequence[str] = ()) -> int:
    """Start `processes` cluster members, `member(process_id, addresses)` each, and wait.

    Each member reads its own share of partitions. Members are forks of this process taken once
    `preload` (module names) is imported: three processes importing the dataflow's stack and
    scikit-learn themselves spent about 1.5 s of CPU each, on the same two cores, before reading
    anything. If one member dies the others are stopped too and the exit code says so: a restart
    resumes from the offsets committed with the data.
    """
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(processes)]
    for module in preload:
        importlib.import_module(module)
    # What the members inherit (modules, their objects) is never garbage: frozen, their collections
    # skip it, instead of each member scanning it all at start (0.3 s of CPU each) and touching
    # every inherited page as it does (copy-on-write: three copies of memory meant to be shared).
    gc.freeze()
    listen_for_stop_signals()  # a stopped parent stops its members, never orphans them
    members = [fork_child(partial(member, i, addresses), name=f"{MEMBER_NAME}{i}") for i in range(processes)]
    try:
        while all(m.poll() is None for m in members):
            time.sleep(0.2)
    except KeyboardInterrupt:
        _stop_all(members)
        return 130
    failed = [m for m in members if m.returncode not in (0, None)]
    for m in failed:
        log.error("cluster member exited", extra={"pid": m.pid, "exit_code": m.returncode})
    _stop_all(members)
    return failed[0].returncode if failed else 0


def _stop_all(members: list[ForkedChild]) -> None:
    for member in members:
        if member.poll() is None:
            member.send_signal(signal.SIGINT)
    for member in members:
        try:
            member.wait(timeout=10)
        except subprocess.TimeoutExpired:
            member.kill()
            member.wait()
