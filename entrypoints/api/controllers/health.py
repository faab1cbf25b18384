"""/health (alive) and /ready (the database and the broker answer). No key needed."""

from __future__ import annotations

from litestar import Controller, Response, get
from pydantic import BaseModel

from domain.errors import AnalyticsError
from entrypoints.api.deps import CollectorDep, Queries


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class HealthController(Controller):
    tags = ["health"]

    @get("/health", operation_id="getHealth")
    async def health(self) -> Health:
        """The process answers."""
        return Health(status="ok")

    @get("/ready", operation_id="getReady", sync_to_thread=True)
    def ready(self, queries: Queries, collector: CollectorDep) -> Response[Health]:
        """503 until both the database and the broker answer."""
        checks = {"database": _check(queries.ping), "broker": _check(collector.ping_broker)}
        ok = all(v == "ok" for v in checks.values())
        return Response(Health(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503)


def _check(probe) -> str:
    try:
        probe()
    except AnalyticsError as error:
        return f"unavailable: {error}"
    return "ok"
