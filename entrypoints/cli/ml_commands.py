"""`analytics evaluate`: anomaly detector quality on a labelled generated stream and on River's Shuttle.

Offline: the stream is generated in-process and Shuttle ships inside the River wheel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.table import Table


def register(app: typer.Typer) -> None:
    app.command()(evaluate)


def evaluate(
    count: Annotated[int, typer.Option(min=1_000, help="Events in the generated stream.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated stream.")] = 7,
    anomaly_rate: Annotated[
        float, typer.Option(min=0.001, max=0.2, help="Share of generated events in anomalous episodes.")
    ] = 0.01,
    shuttle: Annotated[bool, typer.Option("--shuttle/--no-shuttle", help="Also score River's Shuttle stream.")] = True,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON here.")] = None,
) -> None:
    """ROC-AUC and PR-AUC of Isolation Forest, Half-Space Trees and their combined score on a labelled
    generated stream (as the platform scores it), and of both detectors on River's Shuttle stream."""
    from rich.console import Console

    console = Console(stderr=True)
    report: dict[str, Any] = {}
    with console.status(f"scoring a generated stream of {count:,} events (seed {seed})..."):
        try:
            from adapters.ml.stream_evaluation import labelled_stream_benchmark  # River, scikit-learn: slow imports

            report["stream"] = labelled_stream_benchmark(count, seed=seed, anomaly_rate=anomaly_rate)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--count/--anomaly-rate") from error
    if shuttle:
        with console.status("scoring River's Shuttle stream (49,097 rows)..."):
            from adapters.ml.evaluation import shuttle_benchmark

            report["shuttle"] = shuttle_benchmark()
    console.print(_quality_table(report))
    console.print(_kinds_table(report["stream"]))
    if json_path:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)


def _quality_table(report: dict[str, Any]) -> Table:
    stream, shuttle = report["stream"], report.get("shuttle")
    combined = stream["combined"]
    weights = ", ".join(f"{name} {weight:g}" for name, weight in combined["weights"].items())
    captions = [
        f"generated: {stream['events']:,} events; the forest fits the first {stream['train_events']:,}, "
        f"the other {stream['scored_events']:,} ({stream['scored_anomalies']} anomalous) are measured",
        f"combined: weighted {combined['mode']} ({weights}); at >= {combined['threshold']} it flags "
        f"{combined['flagged']:,}: precision {combined['precision']:.2f}, recall {combined['recall']:.2f}",
    ]
    if shuttle:
        captions.append(f"Shuttle: {shuttle['samples']:,} rows, {shuttle['anomalies']:,} anomalous")
    from rich.table import Table

    table = Table(title="analytics evaluate: anomaly detectors", caption="\n".join(captions), caption_justify="left")
    for column in ("data", "detector", "ROC-AUC", "PR-AUC", "time"):
        table.add_column(column, justify="left" if column in ("data", "detector") else "right")
    for data, figures in (("generated", stream), ("Shuttle", shuttle)):
        if not figures:
            continue
        forest, trees = figures["isolation_forest"], figures["half_space_trees"]
        table.add_row(data, "isolation_forest", *_aucs(forest), f"fit {forest['fit_seconds']:.2f} s")
        table.add_row(data, "half_space_trees", *_aucs(trees), f"{trees['us_per_event']:.0f} µs/event")
        if figures is stream:
            table.add_row(data, "combined", *_aucs(combined), f"{stream['seconds']['total']:.1f} s in all")
    return table


def _aucs(figures: dict[str, Any]) -> tuple[str, str]:
    return f"{figures['roc_auc']:.4f}", f"{figures['pr_auc']:.4f}"


def _kinds_table(stream: dict[str, Any]) -> Table:
    from rich.table import Table

    table = Table(title=f"per anomaly kind: combined score >= {stream['combined']['threshold']}")
    for column in ("kind", "events", "recall", "ROC-AUC vs normal"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, figures in stream["kinds"].items():
        table.add_row(kind, str(figures["events"]), f"{figures['recall']:.2f}", f"{figures['roc_auc']:.4f}")
    return table
