"""`replay` (projections from the event log) and `dlq replay` (dead letters through the log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from domain.failures import ErrorType  # the type of --error-type: typer needs it to build the command
from entrypoints.cli.common import load_settings, platform


def register(app: typer.Typer) -> None:
    app.command()(replay)
    dlq = typer.Typer(help="Dead-letter queue (failed_events) tools.", no_args_is_help=True)
    dlq.command("replay")(dlq_replay)
    app.add_typer(dlq, name="dlq")


def replay() -> None:
    """Rebuild every projection (users, daily_stats, windows, sessions) from the event log."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from application.replay import rebuild_projections

    settings = load_settings()
    with (
        platform(settings, migrate=True) as (_, container),
        Progress(SpinnerColumn(), TextColumn("replaying events: {task.completed:,}"), transient=False) as progress,
    ):
        task = progress.add_task("replay", total=None)
        done = rebuild_projections(
            container.services.unit_of_work,
            settings.processor.timing_rules(),
            on_progress=lambda n: progress.update(task, completed=n),
        )
    typer.echo(f"rebuilt projections from {done} events", err=True)


def dlq_replay(
    error_type: Annotated[
        ErrorType | None, typer.Option("--error-type", help="Only dead letters of this type.")
    ] = None,
) -> None:
    """Send dead letters (fixed in place, or failing a rule since changed) through the log again."""
    from application.replay import replay_dead_letters

    settings = load_settings()
    with platform(settings) as (_, container):
        result = replay_dead_letters(
            container.services.unit_of_work,
            container.gateways.publisher(),
            settings.kafka.events_topic,
            error_type=error_type.value if error_type else None,
            now=datetime.now(UTC),
        )
    typer.echo(f"replayed {result.replayed} dead letters to {result.topic}", err=True)
