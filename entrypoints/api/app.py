"""`create_app`: the Litestar application, wired from the container."""

from __future__ import annotations

from litestar import Litestar
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging.config import LoggingConfig
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

from application.dashboard import LogEndOffsets
from application.ports.queries import AnalyticsQueries
from entrypoints.api.auth import API_KEY_HEADER, ApiKeys
from entrypoints.api.controllers.dashboard import DashboardFeeds, dashboard_routes
from entrypoints.api.controllers.events import EventsController
from entrypoints.api.controllers.health import HealthController
from entrypoints.api.controllers.operations import AnomaliesController, FailedEventsController
from entrypoints.api.controllers.stats import StatsController
from entrypoints.api.controllers.users import UsersController
from entrypoints.api.deps import ApiOptions, Collector
from entrypoints.api.errors import EXCEPTION_HANDLERS
from entrypoints.settings import VERSION, ApiSettings

UNLIMITED = ["/health", "/ready", "/metrics", "/schema"]


class MetricsController(PrometheusController):
    """Prometheus text format at /metrics (not part of the JSON API's schema)."""

    include_in_schema = False


class _RateLimit(RateLimitMiddleware):
    """Litestar's limiter, plus the `Retry-After` header clients look for on a 429."""

    def create_response_headers(self, cache_object):  # noqa: ANN001, ANN201 - Litestar's signature
        headers = super().create_response_headers(cache_object)
        reset = headers.get(self.config.rate_limit_reset_header_key)
        if reset is not None:
            headers["Retry-After"] = str(max(1, int(reset)))
        return headers


def create_app(
    *,
    api_keys: ApiKeys,
    queries: AnalyticsQueries,
    collector: Collector,
    settings: ApiSettings,
    allowed_lateness_s: float,
    cache_store: Store | None = None,
    log_end_offsets: LogEndOffsets | None = None,
) -> Litestar:
    """The API. Ports come in ready-made; nothing connects until a request needs it.

    `log_end_offsets` gives the events topic's end offset per partition, for the dashboard's
    lag; without it (or when it raises `BrokerUnavailable`) the lag is reported unknown."""
    feeds = DashboardFeeds(topic=collector.topic, log_end_offsets=log_end_offsets)
    rate_limit = RateLimitConfig(
        rate_limit=("second", settings.rate_limit_per_second),
        identifier_for_request=lambda request: api_keys.fingerprint(request.headers.get(API_KEY_HEADER)),
        exclude=UNLIMITED,
        middleware_class=_RateLimit,
    )
    prometheus = PrometheusConfig(app_name="analytics_api", prefix="analytics_api", group_path=True)
    # A server span per request (the tracer provider is the process's, see entrypoints.tracing);
    # scrapes and probes are not worth a trace each.
    tracing = OpenTelemetryConfig(exclude=UNLIMITED + ["/dashboard"], exclude_spans=["receive", "send"])
    return Litestar(
        route_handlers=[
            EventsController,
            UsersController,
            StatsController,
            AnomaliesController,
            FailedEventsController,
            HealthController,
            MetricsController,
            *dashboard_routes(),
        ],
        dependencies={
            "queries": Provide(lambda: queries, use_cache=True, sync_to_thread=False),
            "collector": Provide(lambda: collector, use_cache=True, sync_to_thread=False),
            "options": Provide(lambda: ApiOptions(allowed_lateness_s), use_cache=True, sync_to_thread=False),
            "dashboard_feeds": Provide(lambda: feeds, use_cache=True, sync_to_thread=False),
        },
        middleware=[tracing.middleware, rate_limit.middleware, prometheus.middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        # Keep the process's JSON logging: Litestar's default would replace the root handlers.
        # Unexpected errors are logged by `unexpected_error` (entrypoints.api.errors).
        logging_config=LoggingConfig(configure_root_logger=False),
        response_cache_config=ResponseCacheConfig(default_expiration=settings.cache_ttl_s),
        stores={"response_cache": cache_store or MemoryStore(), "rate_limit": MemoryStore()},
        openapi_config=OpenAPIConfig(
            title="User analytics API",
            version=VERSION,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="apiKey", name=API_KEY_HEADER, security_scheme_in="header")
                }
            ),
            security=[{"apiKey": []}],
        ),
        state=State({"api_keys": api_keys}),
        request_max_body_size=1_048_576,
    )
