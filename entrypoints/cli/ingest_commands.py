"""`generate`, `produce` and `process`: getting events into Kafka and through the dataflow."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from adapters.kafka.topics import ensure_topics
from entrypoints.cli.common import load_settings, platform
from entrypoints.feeding import produce_generated, produce_lines
from entrypoints.processor import run_cluster, run_in_this_process


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(produce)
    app.command()(process)


def generate(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many events.")],
    rate: Annotated[float | None, typer.Option(help="Events per second; unset = as fast as possible.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible traffic; unset = random.")] = None,
    stdout: Annotated[bool, typer.Option("--stdout", help="Write JSON lines to stdout instead of Kafka.")] = False,
) -> None:
    """Generate realistic mock events into topic `user-events` (or as JSON lines)."""
    settings = load_settings()
    if stdout:
        from application.traffic import generate_events, to_wire

        out = sys.stdout.buffer
        for event in generate_events(count, seed=_seed(seed), start=datetime.now(UTC), rate=rate or 1000.0):
            out.write(to_wire(event) + b"\n")
        out.flush()
        return
    with platform(settings) as (_, container):
        ensure_platform_topics(container)
        report = produce_generated(
            container.gateways.publisher(), settings.kafka.events_topic, count, rate=rate, seed=_seed(seed)
        )
    typer.echo(f"delivered {report.delivered}, failed {report.failed}", err=True)
    raise typer.Exit(1 if report.failed else 0)


def produce(
    source: Annotated[str, typer.Argument(help="File of JSON-lines events, or - for stdin.")] = "-",
) -> None:
    """Produce JSON-lines events to `user-events`; bad lines are dead-lettered by the dataflow."""
    settings = load_settings()
    stream = sys.stdin.buffer if source == "-" else Path(source).open("rb")
    with stream, platform(settings) as (_, container):
        ensure_platform_topics(container)
        report = produce_lines(container.gateways.publisher(), settings.kafka.events_topic, stream)
    typer.echo(f"delivered {report.delivered}, failed {report.failed}", err=True)
    raise typer.Exit(1 if report.failed else 0)


def process(
    processes: Annotated[int, typer.Option(min=1, help="Cluster processes; partitions are spread over them.")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads per process.")] = 1,
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="Stop once every partition is read to its end.")
    ] = False,
    process_id: Annotated[int | None, typer.Option(hidden=True)] = None,
    addresses: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the Bytewax dataflow; resumes from the offsets committed with the data."""
    settings = load_settings()
    with platform(settings, migrate=process_id is None) as (services, container):
        if processes > 1 and process_id is None:
            extra = ["--until-caught-up"] if until_caught_up else []
            raise typer.Exit(run_cluster(processes, workers, services.endpoints.as_env(), extra))
        run_in_this_process(
            container,
            workers=workers,
            process_id=process_id,
            addresses=addresses.split(";") if addresses else None,
            stop_at_end=until_caught_up,
        )


def ensure_platform_topics(container) -> None:
    settings = container.settings()
    kafka = settings.kafka
    topics = {name: kafka.partitions for name in (kafka.events_topic, kafka.analytics_topic, kafka.anomalies_topic)}
    ensure_topics(container.gateways.kafka_config(), topics)


def _seed(seed: int | None) -> int:
    return seed if seed is not None else int.from_bytes(os.urandom(4), "big")
