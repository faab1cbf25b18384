"""/v1/anomalies (read) and /v1/failed-events (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from application.views import AnomalyView, FailedEventView, Page
from domain.failures import ErrorType
from entrypoints.api.auth import Role, requires
from entrypoints.api.deps import Queries
from entrypoints.api.errors import ERROR_RESPONSES


class AnomaliesController(Controller):
    path = "/v1/anomalies"
    tags = ["anomalies"]
    guards = [requires(Role.READ)]

    @get("/", responses=ERROR_RESPONSES, operation_id="listAnomalies", sync_to_thread=True)
    def anomalies(
        self,
        queries: Queries,
        since: FromQuery[datetime | None] = None,
        min_score: Annotated[float, QueryParameter(ge=0, le=1)] = 0.0,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[AnomalyView]:
        """Flagged events, most recent first, each with its human-readable reasons."""
        return queries.anomalies(since, min_score, limit)


class FailedEventsController(Controller):
    path = "/v1/failed-events"
    tags = ["failed events"]
    guards = [requires(Role.ADMIN)]

    @get("/", responses=ERROR_RESPONSES, operation_id="listFailedEvents", sync_to_thread=True)
    def failed_events(
        self,
        queries: Queries,
        error_type: FromQuery[ErrorType | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        cursor: FromQuery[str | None] = None,
    ) -> Page[FailedEventView]:
        """Dead-lettered inputs, newest first, with error type, reason and raw payload."""
        return queries.failed_events(error_type.value if error_type else None, limit, cursor)
