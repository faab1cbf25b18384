"""`train`: fit models on the event store, version them, and publish what they score.

`train churn` fits the churn model with the time-aware split of `application.churn`, saves it
in the file model registry (`<data_dir>/models/churn/<version>.joblib` and its JSON sidecar),
and writes every user's churn probability to `churn_scores`, which `GET /v1/users/{user_id}`
reads. The group is `train`; other models add their own commands to it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from adapters.ml.churn_model import SklearnChurnModel
from adapters.ml.model_store import FileModelRegistry
from adapters.postgres.churn import PostgresChurnEventSource, save_churn_scores
from application.churn import NotEnoughHistory, train_churn
from entrypoints.cli.common import load_settings, platform

train = typer.Typer(help="Train models from the event store and publish their scores.", no_args_is_help=True)
CHURN_KIND = "churn"


def register(app: typer.Typer) -> None:
    app.add_typer(train, name="train")


@train.command("churn")
def churn(
    c: Annotated[float, typer.Option("--c", min=1e-6, help="Inverse L2 regularisation of the logistic model.")] = 1.0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the summary as JSON here.")] = None,
) -> None:
    """Train the churn model (earlier cutoff to train, later to validate), save it, score every user."""
    settings = load_settings()
    now = datetime.now(UTC)
    with platform(settings) as (_, container):
        engine = container.gateways.engine()
        try:
            result = train_churn(PostgresChurnEventSource(engine), lambda: SklearnChurnModel(c=c), now=now)
        except NotEnoughHistory as error:
            typer.echo(f"cannot train a churn model: {error}", err=True)
            raise typer.Exit(1) from None
        model: SklearnChurnModel = result.model  # type: ignore[assignment]
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


def _print_table(summary: dict[str, Any]) -> None:
    table = Table(title="analytics train churn")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if isinstance(value, float):
            shown = f"{value:.4f}"
        elif isinstance(value, int):
            shown = f"{value:,}"
        else:
            shown = "-" if value is None else str(value)
        table.add_row(key, shown)
    Console(stderr=True).print(table)
