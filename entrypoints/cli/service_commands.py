"""`up`, `services` and `migrate`: running the platform on this machine."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from entrypoints.cli.common import load_settings, platform
from entrypoints.cli.ingest_commands import GENERATED_TRACES, ensure_platform_topics

if TYPE_CHECKING:
    from entrypoints.local_run import LocalApi


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(services)
    app.command()(migrate)


def up(
    events: Annotated[int | None, typer.Option(min=1, help="Generate this many events, then stop generating.")] = None,
    rate: Annotated[
        float | None, typer.Option(help="Events per second (default 200 live; as fast as possible with --events).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="API port (default ANALYTICS_API_PORT or 8000).")] = None,
    exit_when_done: Annotated[
        bool,
        typer.Option("--exit-when-done", help="With --events: wait until all are stored, print a JSON summary, exit."),
    ] = False,
) -> None:
    """The whole platform here: broker, Postgres, migrations, dataflow and a live generator."""
    if exit_when_done and events is None:
        raise typer.BadParameter("--exit-when-done needs --events N", param_hint="--exit-when-done")
    from entrypoints.local_run import LocalRun

    settings = load_settings("analytics-generator", sample_ratio=GENERATED_TRACES)
    with platform(settings, own_broker=True, migrate=True) as (services, container):
        ensure_platform_topics(container)
        run = LocalRun(settings, services, container, _local_api(settings, port))
        code = run.until_done(events, rate) if exit_when_done else run.forever(events, rate)
    raise typer.Exit(code)


def services() -> None:
    """Start only the embedded broker and Postgres; print their addresses; run until killed."""
    settings = load_settings()
    with platform(settings, own_broker=True, migrate=True) as (local, container):
        ensure_platform_topics(container)
        for key, value in local.endpoints.as_env().items():
            typer.echo(f"{key}={value}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


def migrate() -> None:
    """Run `alembic upgrade head` against the configured database."""
    from adapters.postgres.engine import upgrade_schema

    settings = load_settings()
    with platform(settings) as (local, container):
        upgrade_schema(container.gateways.engine())
        typer.echo("database schema is up to date", err=True)


def _local_api(settings, port: int | None) -> LocalApi:
    """The configured keys, or one admin key made for this run (printed, never logged)."""
    from entrypoints.api.auth import generate_key
    from entrypoints.local_run import LocalApi

    host, port = settings.api.host, port if port is not None else settings.api.port
    if settings.api_keys is not None:
        return LocalApi(host, port, settings.api_keys.get_secret_value())
    key = generate_key()
    return LocalApi(host, port, f"{key}:admin", generated_admin_key=key)
