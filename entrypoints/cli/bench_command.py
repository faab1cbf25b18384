"""`analytics bench`: measure ingest throughput and write a JSON report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from entrypoints.cli.common import load_settings, platform


def register(app: typer.Typer) -> None:
    app.command()(bench)


def bench(
    events: Annotated[int, typer.Option(min=1, help="Events to pre-fill and ingest.")] = 1_000_000,
    processes: Annotated[
        int, typer.Option(min=1, help="Dataflow processes (one per partition of the events topic is best).")
    ] = 3,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here.")] = None,
    api: Annotated[bool, typer.Option("--api", help="Then measure the API on the filled database.")] = False,
    api_requests: Annotated[int, typer.Option(min=10, help="Requests per measured API route.")] = 3000,
    api_concurrency: Annotated[int, typer.Option(min=1, help="Concurrent API clients (closed loop).")] = 2,
    scoring: Annotated[
        bool, typer.Option("--scoring/--no-scoring", help="Score every event (a batch model is trained first).")
    ] = True,
    latency_rates: Annotated[
        str,
        typer.Option(help="Offered rates (events/s, comma-separated) for produce-to-commit latency; empty: skip."),
    ] = "1000,10000",
    latency_seconds: Annotated[float, typer.Option(min=1, help="How long each latency rate is offered.")] = 15.0,
    baseline_events: Annotated[
        int,
        typer.Option(
            min=0, help="Events for the baseline (one INSERT and commit per event) on the same records; 0: skip."
        ),
    ] = 20_000,
) -> None:
    """Benchmark: pre-fill a fresh topic, time the dataflow until every event is committed;
    with --api, then read and post through `analytics api` from this (separate) process."""
    from rich.console import Console
    from rich.table import Table

    from adapters.postgres.engine import drop_database
    from entrypoints.bench.api import run_api_bench
    from entrypoints.bench.cpu import describe
    from entrypoints.bench.ingest import run_ingest_bench
    from entrypoints.bench.latency import describe_writers
    from entrypoints.bench.progress import rates_by_quarter

    settings = load_settings()
    with platform(settings, own_broker=settings.kafka.bootstrap is None) as (services, container):
        database_url = _fresh_database(services)
        try:
            report = run_ingest_bench(
                container,
                database_url,
                events=events,
                processes=processes,
                scoring=scoring,
                latency_rates=_rates(latency_rates),
                latency_seconds=latency_seconds,
                baseline_events=baseline_events,
            )
            if api:
                report.api = run_api_bench(
                    container.gateways.kafka_config(), database_url, requests=api_requests, concurrency=api_concurrency
                ).as_dict()
        finally:
            drop_database(database_url)
    console = Console(stderr=True)
    table = Table(title="analytics bench: ingest (pre-filled topic -> committed rows)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in report.as_dict().items():
        if key not in ("machine", "api", "latency_runs", "latency_ms", "baseline", "cpu_cores", "timeline"):
            table.add_row(
                key, f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
            )
    table.add_row("machine", ", ".join(f"{k}={v}" for k, v in report.machine.items() if k != "cpu_reference_s"))
    if reference := report.machine.get("cpu_reference_s"):
        loop = f"{reference['before']} s before, {reference['after']} s after"
        table.add_row("fixed CPU loop (this host's speed)", loop)
    cpus = report.machine.get("cpus")
    if quarters := rates_by_quarter(report.timeline):
        table.add_row("steady rate by quarter (events/s)", " / ".join(f"{rate:,.0f}" for rate in quarters))
    if report.cpu_cores:
        table.add_row("CPU cores, steady ingest", describe(report.cpu_cores, cpus))
    if report.baseline:
        b = report.baseline
        table.add_row("baseline (1 insert + commit per event)", f"{b['events_per_s']:,} events/s over {b['events']:,}")
    for run in report.latency_runs:
        table.add_row(
            f"latency at {run['offered_events_per_s']:,.0f}/s offered",
            f"p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms, p99 {run['p99_ms']} ms"
            f" ({run['achieved_events_per_s']:,.0f}/s achieved)",
        )
        if run.get("cpu_cores"):
            table.add_row("  CPU cores meanwhile", describe(run["cpu_cores"], cpus))
        if writers := run.get("writers"):
            table.add_row("  transactions meanwhile", describe_writers(writers))
    for route, figures in (report.api or {}).items():
        shown = ", ".join(f"{k}={v}" for k, v in figures.items()) if isinstance(figures, dict) else figures
        table.add_row(f"api {route}", str(shown))
    console.print(table)
    if json_path:
        json_path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    print(json.dumps(report.as_dict()), flush=True)


def _rates(spec: str) -> list[float]:
    try:
        rates = [float(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: comma-separated events/s, e.g. 1000,10000") from None
    if any(rate <= 0 for rate in rates):
        raise typer.BadParameter("rates must be positive")
    return rates


def _fresh_database(services) -> str:
    from adapters.postgres.engine import create_database

    return create_database(services.endpoints.database_url, f"analytics_bench_{time.strftime('%Y%m%d%H%M%S')}")
