"""`train`: fit models on the event store, version them, and publish what they score.

`train churn` fits the churn model with the time-aware split of `application.churn`, saves it
in the file model registry (`<data_dir>/models/churn/<version>.joblib` and its JSON sidecar),
and writes every user's churn probability to `churn_scores`, which `GET /v1/users/{user_id}`
reads. The group is `train`; other models add their own commands to it.

`train anomaly` fits the batch anomaly detector (Isolation Forest, `IF_PARAMS`) on the last
`--window-hours` of events with `application.anomaly_training`, saves it in the same registry
(`<data_dir>/models/if/<version>.joblib`) and records the version in the `models` table.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from entrypoints.cli.common import load_settings, platform

train = typer.Typer(help="Train models from the event store and publish their scores.", no_args_is_help=True)
CHURN_KIND = "churn"
# `application.anomaly_training.DEFAULT_MIN_EVENTS`, the default of --min-events, copied so that building
# the CLI does not import the training code; tests/unit/test_cli_imports.py checks the two agree.
DEFAULT_MIN_EVENTS = 1_000


def register(app: typer.Typer) -> None:
    app.add_typer(train, name="train")


@train.command("churn")
def churn(
    c: Annotated[float, typer.Option("--c", min=1e-6, help="Inverse L2 regularisation of the logistic model.")] = 1.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the summary as JSON here.")] = None,
) -> None:
    """Train the churn model (earlier cutoff to train, later to validate), save it, score every user."""
    from adapters.ml.model_store import FileModelRegistry
    from adapters.postgres.churn import PostgresChurnEventSource, save_churn_scores
    from application.churn import NotEnoughHistory, train_churn

    settings = load_settings()
    now = datetime.now(UTC)
    with platform(settings) as (_, container):
        engine = container.gateways.engine()
        try:
            from adapters.ml.churn_model import SklearnChurnModel  # scikit-learn: only this command pays the import

            result = train_churn(PostgresChurnEventSource(engine), lambda: SklearnChurnModel(c=c), now=now)
        except NotEnoughHistory as error:
            typer.echo(f"cannot train a churn model: {error}", err=True)
            raise typer.Exit(1) from None
        model = result.model
        registry = FileModelRegistry(settings.data_dir / "models")
        info: dict[str, Any] = {
            "params": {**model.params(), **result.params},
            "cutoffs": result.cutoffs.as_dict(),
            "metrics": result.metrics,
            "coefficients": model.coefficients(),
            "trained_from": result.cutoffs.t0,
            "trained_to": result.cutoffs.t1,
        }
        version = registry.save(model, info, kind=CHURN_KIND)
        written = save_churn_scores(engine, result.scores, version, now)

    summary = {
        "model_version": version,
        "model_path": str(registry.root / CHURN_KIND / f"{version}.joblib"),
        "scored_users": written,
        "scored_at": now.isoformat(),
        **{key: value for key, value in result.metrics.items() if key != "scored_users"},
        **result.cutoffs.as_dict(),
    }
    _print_table(summary)
    if json_path:
        json_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)


@train.command("anomaly")
def anomaly(
    window_hours: Annotated[
        float, typer.Option("--window-hours", min=0.001, help="Train on the events of the last N hours of event time.")
    ] = 24.0,
    min_events: Annotated[
        int, typer.Option("--min-events", min=1, help="Refuse to train on fewer events than this.")
    ] = DEFAULT_MIN_EVENTS,
    labels_path: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            metavar="PATH",
            exists=True,
            dir_okay=False,
            help="Ground truth CSV `event_id,label,kind` (as `analytics generate --labels` writes it): "
            "adds ROC-AUC and PR-AUC over the labelled training events.",
        ),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the summary as JSON here.")] = None,
) -> None:
    """Train the batch anomaly detector on the latest window of events, save it and record it in `models`."""
    from rich.console import Console

    from adapters.ml.isolation_forest import fit_isolation_forest
    from adapters.ml.model_store import FileModelRegistry
    from adapters.postgres.anomaly_training import PostgresAnomalyEventSource, PostgresModelCatalog
    from application.anomaly_training import NotEnoughEvents, train_anomaly
    from domain.detection import BATCH_DETECTOR

    settings = load_settings()
    now = datetime.now(UTC)
    labels = _read_labels(labels_path) if labels_path else None
    registry = FileModelRegistry(settings.data_dir / "models")
    console = Console(stderr=True)
    with platform(settings) as (_, container), console.status("starting...") as status:
        engine = container.gateways.engine()
        try:
            report = train_anomaly(
                PostgresAnomalyEventSource(engine),
                registry.for_kind(BATCH_DETECTOR),
                PostgresModelCatalog(engine),
                now=now,
                detector_factory=fit_isolation_forest,
                window=timedelta(hours=window_hours),
                min_events=min_events,
                labels=labels,
                progress=status.update,
            )
        except NotEnoughEvents as error:
            status.stop()
            typer.echo(f"cannot train an anomaly detector: {error}", err=True)
            raise typer.Exit(1) from None

    summary = {
        **report.as_dict(),
        "model_path": str(registry.root / BATCH_DETECTOR / f"{report.model.version}.joblib"),
    }
    _print_table(summary, title="analytics train anomaly")
    if json_path:
        json_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary), flush=True)


def _read_labels(path: Path) -> dict[str, bool]:
    """`{event_id: is_anomaly}` from a CSV with `event_id` and `label` (1/0) columns."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not {"event_id", "label"} <= set(reader.fieldnames or ()):
            raise typer.BadParameter(f"{path} needs the columns event_id and label", param_hint="--labels")
        labels: dict[str, bool] = {}
        for line, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip()
            if label not in ("0", "1"):
                raise typer.BadParameter(f"{path}:{line}: label must be 0 or 1, got {label!r}", param_hint="--labels")
            labels[row["event_id"].strip().lower()] = label == "1"
    return labels


def _print_table(summary: dict[str, Any], *, title: str = "analytics train churn") -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            shown = json.dumps(value, sort_keys=True)
        elif isinstance(value, float):
            shown = f"{value:.4f}"
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = "-" if value is None else str(value)
        table.add_row(key, shown)
    Console(stderr=True).print(table)
