"""`analytics bench`, latency part: produce-to-commit latency at fixed offered rates.

For each rate a running dataflow (tailing, warmed up) is fed pre-built records at that rate
for a while; its `analytics_ingest_latency_seconds` histogram (log timestamp = produce time,
to the commit that stored the event) is read from its metrics port before and after, and the
difference gives the run's percentiles, interpolated within buckets as Prometheus'
`histogram_quantile` does. Offering more than the platform can take shows as latency that
grows with the run: the figure says so rather than hiding it. The transaction histograms, read
the same way, say how the writers spent the window (`writer_load`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from adapters.kafka.topics import delete_topics, ensure_topics
from adapters.loopback import free_port
from application.ports.event_log import EventPublisher
from application.traffic import generate_events, partition_key, to_wire
from entrypoints.bench.cpu import CpuMeter, bench_components
from entrypoints.bench.dataflow import log_tail, start_dataflow, stop_dataflow
from entrypoints.feeding import Pacer

HISTOGRAM = "analytics_ingest_latency_seconds"
WRITE_SECONDS = "analytics_db_write_seconds"  # one observation per transaction
BATCH_EVENTS = "analytics_batch_events"
BATCH_SECONDS = "analytics_batch_processing_seconds"  # a transaction's oldest records: read to commit
COMMITTED = "analytics_committed_offset"  # set last of a batch's metrics, once the others are observed
WARM_UP_EVENTS = 2_000


@dataclass(frozen=True)
class LatencyRun:
    offered_events_per_s: float
    achieved_events_per_s: float
    events: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_bucket_ms: float  # the upper bound of the slowest event's bucket
    cpu_cores: dict  # by component, over the measured window (`bench.cpu`)
    writers: dict  # the partitions' transactions over the window (`writer_load`)

    def as_dict(self) -> dict:
        return asdict(self)


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' rule: `buckets` are (upper bound, cumulative count), ascending, +Inf last.

    The rank `q * total` falls in the first bucket whose count reaches it; the value is
    interpolated linearly inside that bucket (from 0 for the first). In the +Inf bucket the
    answer is the highest finite bound."""
    if not 0 <= q <= 1:
        raise ValueError("q must be within [0, 1]")
    total = buckets[-1][1] if buckets else 0
    if total == 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            inside = count - lower_count
            return bound if inside == 0 else lower_bound + (bound - lower_bound) * (rank - lower_count) / inside
        lower_bound, lower_count = bound, count
    return lower_bound


@dataclass(frozen=True)
class Scrape:
    """What the bench reads from the workers' metrics, summed over partitions and processes."""

    latency: dict[float, float]  # the latency histogram's cumulative bucket counts by upper bound
    totals: dict[str, float]  # `_sum` and `_count` of the transaction histograms, by sample name


def scrape(ports: Sequence[int]) -> Scrape:
    """Read each worker's metrics port (one per process) and sum what the bench needs."""
    latency: dict[float, float] = {}
    totals: dict[str, float] = {}
    for port in ports:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(body):
            if family.name not in (HISTOGRAM, WRITE_SECONDS, BATCH_EVENTS, BATCH_SECONDS, COMMITTED):
                continue
            for sample in family.samples:
                if sample.name == COMMITTED:
                    totals[COMMITTED] = totals.get(COMMITTED, 0.0) + sample.value
                elif sample.name == f"{HISTOGRAM}_bucket":
                    bound = float(sample.labels["le"])
                    latency[bound] = latency.get(bound, 0.0) + sample.value
                elif sample.name.endswith(("_sum", "_count")) and family.name != HISTOGRAM:
                    totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return Scrape(latency, totals)


def scrape_settled(ports: Sequence[int], committed: int, *, timeout: float = 10.0) -> Scrape:
    """A scrape that holds every batch up to `committed` records (offsets summed over partitions).

    A worker observes a batch's metrics just after its commit, so a scrape taken as soon as the
    store shows the offsets can miss the last batches; their committed offset is set last."""
    deadline = time.monotonic() + timeout
    while True:
        scraped = scrape(ports)
        if scraped.totals.get(COMMITTED, 0.0) >= committed or time.monotonic() > deadline:
            return scraped
        time.sleep(0.05)


def writer_load(before: Scrape, after: Scrape, seconds: float, partitions: int) -> dict[str, float]:
    """The partitions' transactions between two scrapes `seconds` apart: how many a second, how many
    events each, how long each took, how long their oldest records had waited since they were read
    (`read_to_commit_ms`: the transaction plus its wait for the writer), and the share of the time
    the writers spent in one (`busy`).

    A partition's writer starts its next transaction as soon as one commits, with whatever queued
    meanwhile, so at a steady rate r a batch of n events settles where n = r * (a + b * n), a being
    a transaction's fixed time and b its time per event: busy near 1 means no spare capacity. A
    transaction counts whole in the window it commits in, so `busy` can pass 1 by a fraction of
    one transaction's length."""

    def delta(name: str) -> float:
        return after.totals.get(name, 0.0) - before.totals.get(name, 0.0)

    transactions = delta(f"{WRITE_SECONDS}_count")
    if transactions <= 0 or seconds <= 0:
        return dict.fromkeys(
            ("transactions_per_s", "events_per_transaction", "transaction_ms", "read_to_commit_ms", "busy"), 0.0
        )
    busy_seconds = delta(f"{WRITE_SECONDS}_sum")
    return {
        "transactions_per_s": round(transactions / seconds, 1),
        "events_per_transaction": round(delta(f"{BATCH_EVENTS}_sum") / transactions, 1),
        "transaction_ms": round(busy_seconds / transactions * 1000, 1),
        "read_to_commit_ms": round(delta(f"{BATCH_SECONDS}_sum") / transactions * 1000, 1),
        "busy": round(busy_seconds / (seconds * partitions), 3),
    }


def describe_writers(writers: dict[str, float]) -> str:
    """`writer_load` in one line, for the summary."""
    return (
        f"{writers['transactions_per_s']:,} a second of {writers['events_per_transaction']:,} events,"
        f" {writers['transaction_ms']:,} ms each ({writers['read_to_commit_ms']:,} from read to commit);"
        f" writers busy {writers['busy']:.0%}"
    )


def run_latency_bench(
    publisher: EventPublisher,
    kafka_config: dict,
    engine: Engine,
    env: dict[str, str],
    *,
    rates: Sequence[float],
    seconds: float,
    processes: int,
    partitions: int,
    stamp: str,
) -> list[LatencyRun]:
    runs = []
    for rate in rates:
        topic = f"bench-latency-{int(rate)}-{stamp}-{os.getpid()}"
        ensure_topics(kafka_config, {topic: partitions})
        try:
            consumer = f"latency-{int(rate)}"
            runs.append(_one_rate(publisher, engine, env, topic, rate, seconds, processes, partitions, consumer))
        finally:
            delete_topics(kafka_config, [topic])
    return runs


def _one_rate(
    publisher: EventPublisher,
    engine: Engine,
    env: dict[str, str],
    topic: str,
    rate: float,
    seconds: float,
    processes: int,
    partitions: int,
    consumer: str,
) -> LatencyRun:
    port = free_port() if processes == 1 else _free_port_run(processes)
    ports = [port + i for i in range(processes)]
    child_env = {
        **env,
        "ANALYTICS_KAFKA_EVENTS_TOPIC": topic,
        "ANALYTICS_PROCESSOR_CONSUMER": consumer,
        "ANALYTICS_PROCESSOR_METRICS_PORT": str(port),
    }
    log_path = Path(env["ANALYTICS_DATA_DIR"]) / f"dataflow-{consumer}.log"
    child = start_dataflow(["--processes", str(processes)], child_env, log_path)
    try:
        count = max(1, int(rate * seconds))
        records = rate_records(rate, WARM_UP_EVENTS + count)
        _publish(publisher, topic, records[:WARM_UP_EVENTS], rate=min(rate, 2_000.0))
        _wait_consumed(engine, consumer, WARM_UP_EVENTS, child, log_path)
        cpu = CpuMeter(bench_components(child.pid, engine, env["ANALYTICS_KAFKA_BOOTSTRAP"]))
        before = scrape_settled(ports, WARM_UP_EVENTS)
        scraped_at = time.monotonic()
        cpu.start()
        started = time.monotonic()
        _publish(publisher, topic, records[WARM_UP_EVENTS:], rate=rate)
        achieved = count / (time.monotonic() - started)
        _wait_consumed(engine, consumer, WARM_UP_EVENTS + count, child, log_path)
        cpu_cores = cpu.stop()
        after = scrape_settled(ports, WARM_UP_EVENTS + count)
        window = time.monotonic() - scraped_at
    finally:
        stop_dataflow(child)
    buckets = sorted((bound, after.latency[bound] - before.latency.get(bound, 0.0)) for bound in after.latency)
    slowest = next((bound for bound, cumulative in buckets if cumulative >= buckets[-1][1]), float("nan"))
    return LatencyRun(
        offered_events_per_s=rate,
        achieved_events_per_s=round(achieved, 1),
        events=count,
        p50_ms=round(histogram_quantile(0.50, buckets) * 1000, 1),
        p95_ms=round(histogram_quantile(0.95, buckets) * 1000, 1),
        p99_ms=round(histogram_quantile(0.99, buckets) * 1000, 1),
        max_bucket_ms=round(slowest * 1000, 1),
        cpu_cores=cpu_cores,
        writers=writer_load(before, after, window, partitions),
    )


def rate_records(rate: float, count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) records offered at `rate`, built before the clock starts so that the producer
    only paces and sends. Each rate has a seed of its own: two runs of the generator on one seed
    share stretches of its random stream, and with one seed for all rates the 10,000/s run
    redelivered ~1,250 of the 1,000/s run's events, so the batches holding one were rolled back
    and redone (asking the store first), which doubled the 10,000/s p99."""
    events = generate_events(count, seed=int(rate), start=datetime.now(UTC), rate=1000.0)
    return [(partition_key(e), to_wire(e)) for e in events]


def _publish(publisher: EventPublisher, topic: str, records: Sequence[tuple[bytes, bytes]], *, rate: float) -> None:
    pacer = Pacer(rate)
    for key, value in records:
        publisher.publish(topic, key, value)
        pacer.tick()
    report = publisher.flush()
    if report.pending:
        raise RuntimeError(f"{report.pending} records not acknowledged by the broker")


def _wait_consumed(
    engine: Engine, consumer: str, count: int, child: subprocess.Popen, log_path: Path, timeout: float = 600
) -> None:
    deadline = time.monotonic() + timeout
    query = text("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer LIKE :consumer")
    while True:
        with engine.connect() as conn:
            consumed = conn.execute(query, {"consumer": f"{consumer}@%"}).scalar_one()
        if consumed >= count:
            return
        if child.poll() is not None:
            raise RuntimeError(f"the dataflow exited: {log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {consumed} of {count} records committed after {timeout} s")
        time.sleep(0.05)


def _free_port_run(processes: int) -> int:
    """A base port with `processes` free ports after it (one metrics port per process)."""
    for _ in range(50):
        base = free_port()
        if all(_is_free(base + i) for i in range(1, processes)):
            return base
    raise RuntimeError("no run of free ports for the worker metrics")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
