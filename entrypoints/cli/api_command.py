"""`analytics api`: serve the Litestar API with uvicorn."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Annotated

import typer

from entrypoints.cli.common import load_settings, platform

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command()(api)


def api(
    host: Annotated[str | None, typer.Option(help="Address to bind (default ANALYTICS_API_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ANALYTICS_API_PORT or 8000).")] = None,
) -> None:
    """Serve the REST API (OpenAPI at /schema, Swagger UI at /schema/swagger)."""
    # Litestar and uvicorn: only this command pays their import, not every `analytics` process.
    import uvicorn
    from prometheus_client import REGISTRY

    from entrypoints.api.auth import ApiKeys
    from entrypoints.api.wiring import api_from_container
    from entrypoints.metrics_federation import FederatedMetrics
    from entrypoints.producer_metrics import ProducerCollector

    settings = load_settings("analytics-api")
    if settings.api_keys is None:
        raise typer.BadParameter("set ANALYTICS_API_KEYS (key:role,...); `analytics up` generates one for you")
    keys = ApiKeys.parse(settings.api_keys.get_secret_value())
    with platform(settings, migrate=True) as (_, container):
        app = api_from_container(container, keys)
        producer = ProducerCollector(container.gateways.publisher(), "api")
        if settings.api.metrics_from:
            REGISTRY.register(FederatedMetrics(settings.api.metrics_from, local=[producer]))
        else:
            REGISTRY.register(producer)
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler
        # it found. With Python's default that ends the process at once, skipping the cleanup
        # below (the publisher's final flush, the last spans); with this one it returns instead.
        previous = signal.signal(signal.SIGTERM, _note_stop)
        try:
            uvicorn.run(
                app,
                host=host or settings.api.host,
                port=port if port is not None else settings.api.port,
                log_level="warning",
                access_log=False,
            )
        finally:
            signal.signal(signal.SIGTERM, previous)
    log.info("api stopped")


def _note_stop(signum: int, frame: FrameType | None) -> None:
    log.info("api shut down by signal; closing", extra={"signal": signal.Signals(signum).name})
