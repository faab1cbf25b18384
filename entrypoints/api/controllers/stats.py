"""/v1/stats: daily statistics and the latest closed real-time windows (cached briefly)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from application.views import DailyStatsView, RealtimeView
from entrypoints.api.auth import Role, requires
from entrypoints.api.deps import OptionsDep, Queries
from entrypoints.api.errors import ERROR_RESPONSES


class StatsController(Controller):
    path = "/v1/stats"
    tags = ["stats"]
    guards = [requires(Role.READ)]

    @get("/daily", responses=ERROR_RESPONSES, operation_id="getDailyStats", cache=True, sync_to_thread=True)
    def daily(
        self,
        queries: Queries,
        from_: Annotated[date | None, QueryParameter(name="from", description="first day (UTC), inclusive")] = None,
        to: Annotated[date | None, QueryParameter(description="last day (UTC), inclusive")] = None,
        event_type: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
    ) -> list[DailyStatsView]:
        """Per day, event type and country: events, unique users, purchases, revenue."""
        return queries.daily_stats(from_, to, event_type, country)

    @get("/realtime", responses=ERROR_RESPONSES, operation_id="getRealtimeStats", cache=True, sync_to_thread=True)
    def realtime(
        self,
        queries: Queries,
        options: OptionsDep,
        windows: Annotated[int, QueryParameter(ge=1, le=60, description="how many closed minutes")] = 5,
    ) -> RealtimeView:
        """The latest closed minute windows: counts by type, country and device, revenue,
        active users, and the event rate over the last five minutes."""
        return queries.realtime(windows, options.allowed_lateness_s)
