"""`analytics bench`: ingest throughput from a pre-filled topic to committed rows.

It runs on a fresh topic and a fresh database so that nothing else skews it, then
times the real `analytics process` (one or more processes) until every event is
committed. Startup (imports, connecting, partition assignment) is reported apart.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

from sqlalchemy import text

from adapters.kafka.topics import delete_topics, ensure_topics
from adapters.postgres.engine import create_postgres_engine, upgrade_schema
from entrypoints.containers import Container
from entrypoints.feeding import produce_generated

BENCH_SEED = 20261127


@dataclass
class BenchReport:
    events: int
    processes: int
    partitions: int
    ingest_events_per_s: float
    ingest_seconds: float
    steady_events_per_s: float
    startup_seconds: float
    produce_events_per_s: float
    persisted: int
    failed: int
    machine: dict = field(default_factory=dict)
    api: dict | None = None  # with --api: API latency and collector throughput

    def as_dict(self) -> dict:
        return asdict(self)


def run_ingest_bench(container: Container, database_url: str, *, events: int, processes: int) -> BenchReport:
    settings = container.settings()
    stamp = time.strftime("%Y%m%d%H%M%S")
    topic = f"bench-user-events-{stamp}-{os.getpid()}"
    kafka_config = container.gateways.kafka_config()
    ensure_topics(kafka_config, {topic: settings.kafka.partitions})
    try:
        return _measure(container, kafka_config, topic, stamp, database_url, events=events, processes=processes)
    finally:
        delete_topics(kafka_config, [topic])


def _measure(container, kafka_config, topic, stamp, database_url, *, events: int, processes: int) -> BenchReport:
    settings = container.settings()
    started = time.monotonic()
    report = produce_generated(container.gateways.publisher(), topic, events, rate=None, seed=BENCH_SEED)
    produce_rate = report.delivered / (time.monotonic() - started)

    engine = create_postgres_engine(database_url, pool_size=2)
    upgrade_schema(engine)
    env = {
        **os.environ,
        "ANALYTICS_KAFKA_BOOTSTRAP": kafka_config["bootstrap.servers"],
        "ANALYTICS_DATABASE_URL": database_url,
        "ANALYTICS_KAFKA_EVENTS_TOPIC": topic,
        "ANALYTICS_PROCESSOR_CONSUMER": f"bench-{stamp}",
    }
    command = [
        sys.executable,
        "-m",
        "entrypoints.cli.main",
        "process",
        "--until-caught-up",
        "--processes",
        str(processes),
    ]
    began = time.monotonic()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # Progress is read from the committed offsets (one row per partition), not count(*)
    # over a growing table, which would steal the database's CPU from the run it measures.
    first_row_at, done_at = None, None
    while done_at is None:
        consumed = _consumed(engine)
        now = time.monotonic()
        if first_row_at is None and consumed > 0:
            first_row_at = now
        if consumed >= report.delivered:
            done_at = now
        elif child.poll() is not None:
            raise RuntimeError(f"the dataflow exited early: {child.stderr.read().decode()[-2000:]}")
        else:
            time.sleep(0.05)
    persisted, failed = _counts(engine)
    child.wait(timeout=60)
    engine.dispose()
    total = done_at - began
    steady = done_at - (first_row_at or began)
    return BenchReport(
        events=events,
        processes=processes,
        partitions=settings.kafka.partitions,
        ingest_events_per_s=round(report.delivered / total, 1),
        ingest_seconds=round(total, 3),
        steady_events_per_s=round(report.delivered / steady, 1) if steady > 0 else 0.0,
        startup_seconds=round((first_row_at or began) - began, 3),
        produce_events_per_s=round(produce_rate, 1),
        persisted=persisted,
        failed=failed,
        machine={"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    )


def _consumed(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets")).scalar_one()


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM failed_events)")).one()
    return row[0], row[1]
