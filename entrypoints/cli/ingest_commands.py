"""`generate`, `produce` and `process`: getting events into Kafka and through the dataflow."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.common import load_settings, platform

# Bulk producers trace 1% of their events by default: each traced event costs the dataflow a
# handful of spans, which at full rate would cost more than the processing they describe.
GENERATED_TRACES = 0.01

if TYPE_CHECKING:
    from adapters.kafka.publisher import KafkaEventPublisher
    from application.traffic_anomalies import LabelledTraffic
    from domain.events import UserEvent
    from entrypoints.feeding import Record


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(produce)
    app.command()(process)


def generate(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many events.")],
    rate: Annotated[float | None, typer.Option(help="Events per second; unset = as fast as possible.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible traffic; unset = random.")] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Write JSON lines to stdout instead of Kafka.")] = False,
    anomaly_rate: Annotated[
        float,
        typer.Option(
            "--anomaly-rate",
            min=0.0,
            max=0.2,
            help="Share of events in injected anomalous episodes (stolen_card, purchase_burst, click_flood, "
            "impossible_travel, account_takeover), with some users churning; 0 = plain traffic.",
        ),
    ] = 0.0,
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            metavar="PATH",
            help="Write the ground truth: CSV `event_id,label,kind` at PATH (one row per event; label 1/0, kind "
            "empty when normal) and `user_id,churned` (1/0, one row per user) at PATH.churn.csv. "
            "Implies labelled traffic, with churners, even at --anomaly-rate 0.",
        ),
    ] = None,
) -> None:
    """Generate realistic mock events into topic `user-events` (or as JSON lines)."""
    settings = load_settings("analytics-generator", sample_ratio=GENERATED_TRACES)
    records = None
    if anomaly_rate > 0 or labels is not None:
        from application.traffic_anomalies import generate_labelled
        from entrypoints.feeding import GENERATED_RATE, backlog_start

        # Unpaced into Kafka: a backlog that ended now, each record stamped with its arrival (see
        # `entrypoints.feeding.produce_generated`, which does the same for plain traffic).
        backlog = rate is None and not stdout
        start = backlog_start(count) if backlog else datetime.now(UTC)
        traffic = generate_labelled(
            count, seed=_seed(seed), start=start, rate=rate or GENERATED_RATE, anomaly_rate=anomaly_rate
        )
        records = _labelled_records(traffic, labels, stamped=backlog)
    if stdout:
        from application.traffic import generate_events, to_wire

        if records is None:
            events = generate_events(count, seed=_seed(seed), start=datetime.now(UTC), rate=rate or 1000.0)
            records = ((None, to_wire(event), None) for event in events)
        out = sys.stdout.buffer
        for _, value, _ in records:
            out.write(value + b"\n")
        out.flush()
        return
    from entrypoints.feeding import produce_generated, produce_records

    with platform(settings) as (_, container):
        ensure_platform_topics(container)
        publisher, topic = container.gateways.publisher(), settings.kafka.events_topic
        _export_producer_metrics(publisher, "generator", settings.producer_metrics_port)
        if records is None:
            report = produce_generated(publisher, topic, count, rate=rate, seed=_seed(seed))
        else:
            report = produce_records(publisher, topic, records, total=count, rate=rate)
    typer.echo(f"delivered {report.delivered}, failed {report.failed}", err=True)
    raise typer.Exit(1 if report.failed else 0)


def produce(
    source: Annotated[str, typer.Argument(help="File of JSON-lines events, or - for stdin.")] = "-",
) -> None:
    """Produce JSON-lines events to `user-events`; bad lines are dead-lettered by the dataflow."""
    from entrypoints.feeding import produce_lines

    settings = load_settings("analytics-producer", sample_ratio=GENERATED_TRACES)
    stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")
    with stream, platform(settings) as (_, container):
        ensure_platform_topics(container)
        publisher = container.gateways.publisher()
        _export_producer_metrics(publisher, "produce", settings.producer_metrics_port)
        report = produce_lines(publisher, settings.kafka.events_topic, stream)
    typer.echo(f"delivered {report.delivered}, failed {report.failed}", err=True)
    raise typer.Exit(1 if report.failed else 0)


def process(
    processes: Annotated[int, typer.Option(min=1, help="Cluster processes; partitions are spread over them.")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads per process.")] = 1,
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="Stop once every partition is read to its end.")
    ] = False,
) -> None:
    """Run the Bytewax dataflow; resumes from the offsets committed with the data."""
    # The dataflow and what it needs, and nothing of the API.
    from entrypoints.processor import run_cluster, run_in_this_process

    settings = load_settings("analytics-processor")
    with platform(settings, migrate=True) as (services, container):
        if processes == 1:
            run_in_this_process(container, workers=workers, stop_at_end=until_caught_up)
            return
        container.shutdown_resources()  # no connection of this process's may be shared with its forks
        env = services.endpoints.as_env()  # the members attach to the services resolved here
        member = partial(_cluster_member, env=env, workers=workers, until_caught_up=until_caught_up)
        raise typer.Exit(run_cluster(processes, member, preload=_DATAFLOW_MODULES))


# What a cluster member imports to run the dataflow, beyond `entrypoints.processor`: loaded once, in
# the process the members are forked from (`entrypoints.processor.run_cluster`).
_DATAFLOW_MODULES = ("sklearn.ensemble", "joblib", "adapters.ml.isolation_forest", "adapters.ml.online", "river")


def _cluster_member(process_id: int, addresses: list[str], *, env: dict[str, str], workers: int,
                    until_caught_up: bool) -> int:  # fmt: skip
    """One member of a `process --processes N` cluster, in a fork of the command's process."""
    from entrypoints.processor import run_in_this_process

    os.environ.update(env)
    settings = load_settings("analytics-processor")
    with platform(settings) as (_, container):
        run_in_this_process(
            container, workers=workers, process_id=process_id, addresses=addresses, stop_at_end=until_caught_up
        )
    return 0


def ensure_platform_topics(container) -> None:
    from adapters.kafka.topics import ensure_topics

    settings = container.settings()
    kafka = settings.kafka
    topics = {name: kafka.partitions for name in (kafka.events_topic, kafka.analytics_topic, kafka.anomalies_topic)}
    ensure_topics(container.gateways.kafka_config(), topics)


def _labelled_records(traffic: LabelledTraffic, labels: Path | None, *, stamped: bool) -> Iterator[Record]:
    """The events as (key, value, arrival) records, the arrival in ms with `stamped` (else None: when sent);
    with `labels`, each event's label is written as it is drawn, and the churn ground truth at the end."""
    from application.traffic import partition_key, to_wire
    from entrypoints.feeding import arrival_ms

    def record(event: UserEvent) -> Record:
        return partition_key(event), to_wire(event), arrival_ms(event) if stamped else None

    if labels is None:
        for labelled in traffic:
            yield record(labelled.event)
        return
    users: set[str] = set()
    with labels.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["event_id", "label", "kind"])
        for labelled in traffic:
            event = labelled.event
            rows.writerow([event.event_id, int(labelled.anomaly is not None), labelled.anomaly or ""])
            users.add(event.user_id)
            yield record(event)
    with labels.with_name(labels.name + ".churn.csv").open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["user_id", "churned"])
        rows.writerows([user, int(user in traffic.churned_users)] for user in sorted(users))


def _seed(seed: int | None) -> int:
    return seed if seed is not None else int.from_bytes(os.urandom(4), "big")


def _export_producer_metrics(publisher: KafkaEventPublisher, source: str, port: int | None) -> None:
    from entrypoints.producer_metrics import serve_producer_metrics, watch_publisher

    watch_publisher(publisher, source)
    if port is not None:
        serve_producer_metrics(port)
