"""What every command needs: settings, logs, endpoints and the container.

Light to import: `entrypoints.cli.main` imports every command module to build the CLI, so what a
command needs to run (settings, the container, the embedded services) is imported when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from entrypoints.containers import Container
    from entrypoints.local_services import LocalServices
    from entrypoints.settings import Settings


def analytics_argv(*args: str) -> list[str]:
    """`analytics ARGS` as a child of this interpreter, running the code this process runs.

    `-m` alone would put the child's working directory first on its `sys.path`: started from a
    folder holding an `entrypoints` package (another checkout, say), the child would run that
    code while its parent runs this. `-P` leaves the working directory out."""
    return [sys.executable, "-P", "-m", "entrypoints.cli.main", *args]


def load_settings(tracing_as: str | None = None, *, sample_ratio: float = 1.0) -> Settings:
    """Settings, logging, and with `tracing_as` (a service name) this process's tracer provider;
    `sample_ratio` is the share of new traces it samples unless `ANALYTICS_TRACE_SAMPLE_RATIO` says."""
    from entrypoints.logs import configure_logging
    from entrypoints.settings import Settings

    settings = Settings()
    configure_logging(settings.log_level)
    if tracing_as is not None:
        from entrypoints.tracing import configure_tracing

        configure_tracing(tracing_as, settings.tracing, sample_ratio)
    return settings


@contextmanager
def platform(
    settings: Settings, *, own_broker: bool = False, migrate: bool = False
) -> Iterator[tuple[LocalServices, Container]]:
    """Endpoints resolved (embedded services started if needed) and a wired container."""
    from entrypoints.containers import build_container
    from entrypoints.local_services import LocalServices
    from entrypoints.stop_signals import listen_for_stop_signals

    listen_for_stop_signals()  # so a SIGTERM stops the embedded services too, never orphans them
    with LocalServices(settings, own_broker=own_broker) as services:
        container = build_container(settings, services.endpoints)
        try:
            if migrate:
                from adapters.postgres.engine import upgrade_schema

                upgrade_schema(container.gateways.engine())
            yield services, container
        finally:
            container.shutdown_resources()
