"""What every command needs: settings, logs, endpoints and the container."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from adapters.postgres.engine import upgrade_schema
from entrypoints.containers import Container, build_container
from entrypoints.local_services import LocalServices
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings


def load_settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level)
    return settings


@contextmanager
def platform(
    settings: Settings, *, own_broker: bool = False, migrate: bool = False
) -> Iterator[tuple[LocalServices, Container]]:
    """Endpoints resolved (embedded services started if needed) and a wired container."""
    with LocalServices(settings, own_broker=own_broker) as services:
        container = build_container(settings, services.endpoints)
        try:
            if migrate:
                upgrade_schema(container.gateways.engine())
            yield services, container
        finally:
            container.shutdown_resources()
