"""Every metric name the platform exports: what dashboards and alert rules may query.

Built from the real metric objects (worker and producer metrics, the API's Litestar plugin
naming, prometheus_client's default collectors), so a renamed metric fails the deploy/ tests
instead of leaving a dashboard panel empty.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, PlatformCollector

from entrypoints.producer_metrics import ProducerCollector
from entrypoints.worker_metrics import WorkerMetrics

API_METRICS_PREFIX = "analytics_api"  # Litestar's PrometheusConfig(prefix=...)
_API_FAMILIES = {
    f"{API_METRICS_PREFIX}_requests": "counter",
    f"{API_METRICS_PREFIX}_request_duration_seconds": "histogram",
    f"{API_METRICS_PREFIX}_requests_in_progress": "gauge",
    f"{API_METRICS_PREFIX}_requests_error": "counter",
}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


class _NoTotals:
    def totals(self) -> tuple[int, int, int]:
        return 0, 0, 0


def exported_metric_names() -> set[str]:
    """Sample names as Prometheus stores them (`x_total`, `x_bucket`, ...), plus `up`."""
    registry = CollectorRegistry()
    WorkerMetrics(registry)  # with the process and GC collectors every process has
    registry.register(ProducerCollector(_NoTotals(), "catalog"))
    PlatformCollector(registry=registry)  # python_info: the API's default registry has it
    families = {family.name: family.type for family in registry.collect()}
    families.update(_API_FAMILIES)
    names = {"up"}
    for name, kind in families.items():
        names.update(name + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names
