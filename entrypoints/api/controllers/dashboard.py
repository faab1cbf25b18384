"""The live dashboard: its page and assets at /dashboard (no key), its data at /v1/dashboard (read).

The page is static; it asks /v1/dashboard for a snapshot every two seconds with the key
the user gave it. Page and assets ship inside the package and stay out of the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from litestar import Controller, MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from application.dashboard import DashboardSnapshot, LogEndOffsets, dashboard_snapshot
from entrypoints.api.auth import Role, requires
from entrypoints.api.deps import OptionsDep, Queries
from entrypoints.api.errors import ERROR_RESPONSES

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_PATH = "/dashboard/static"

# Everything from this origin; inline styles because the chart library sizes its elements
# with them; `data:` for the empty favicon (a missing one is a 404 in the console).
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class DashboardFeeds:
    """What the snapshot needs besides the queries: the events topic and its end offsets."""

    topic: str
    log_end_offsets: LogEndOffsets | None


FeedsDep = NamedDependency[SkipValidation[DashboardFeeds]]


class DashboardController(Controller):
    path = "/v1/dashboard"
    tags = ["dashboard"]
    guards = [requires(Role.READ)]

    @get(
        "/",
        responses=ERROR_RESPONSES,
        operation_id="getDashboard",
        sync_to_thread=True,
        cache_control=CacheControlHeader(no_store=True),
    )
    def dashboard(self, queries: Queries, options: OptionsDep, dashboard_feeds: FeedsDep) -> DashboardSnapshot:
        """One snapshot of the live dashboard: throughput, latency, lag per partition, the latest
        closed minutes by type and country, revenue per minute and the latest anomalies. The lag is
        null (with `lag_error`) when the broker does not answer."""
        return dashboard_snapshot(
            queries,
            topic=dashboard_feeds.topic,
            now=datetime.now(UTC),
            allowed_lateness_s=options.allowed_lateness_s,
            log_end_offsets=dashboard_feeds.log_end_offsets,
        )


@get("/dashboard", include_in_schema=False, media_type=MediaType.HTML, cache_control=CacheControlHeader(no_cache=True))
async def dashboard_page() -> Response[bytes]:
    """The dashboard page; it asks for an API key itself."""
    return Response(_page(), media_type=MediaType.HTML, headers=_PAGE_HEADERS)


@cache
def _page() -> bytes:
    return (STATIC_DIR / "dashboard" / "index.html").read_bytes()


def dashboard_routes() -> list[ControllerRouterHandler]:
    """The page, its assets and the snapshot route, for `create_app`."""
    assets = create_static_files_router(
        path=STATIC_PATH, directories=[STATIC_DIR], name="dashboard-static", include_in_schema=False
    )
    return [dashboard_page, assets, DashboardController]
