"""`analytics`: the command line of the platform."""

from __future__ import annotations

import typer

from entrypoints.cli import bench_command, ingest_commands, service_commands

app = typer.Typer(
    name="analytics",
    help="Real-time user analytics: Kafka -> Bytewax -> Postgres, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
service_commands.register(app)
ingest_commands.register(app)
bench_command.register(app)

if __name__ == "__main__":
    app()
