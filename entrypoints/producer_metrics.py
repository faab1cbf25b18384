"""Producer metrics: what a process queued for Kafka and what the broker acknowledged.

Read from the publisher's own running totals when Prometheus scrapes, so publishing pays
nothing per record for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class CountsDeliveries(Protocol):
    def totals(self) -> tuple[int, int, int]:
        """(queued, delivered, failed) so far."""
        ...


class ProducerCollector(Collector):
    """`analytics_events_{produced,delivered,delivery_failed}_total{source}` of one publisher."""

    def __init__(self, publisher: CountsDeliveries, source: str) -> None:
        self._publisher = publisher
        self._source = source

    def collect(self) -> Iterator[Metric]:
        queued, delivered, failed = self._publisher.totals()
        for name, documentation, value in (
            ("analytics_events_produced", "Records queued for Kafka", queued),
            ("analytics_events_delivered", "Records the broker acknowledged", delivered),
            ("analytics_events_delivery_failed", "Records the broker did not take (after retries)", failed),
        ):
            family = CounterMetricFamily(name, documentation, labels=["source"])
            family.add_metric([self._source], value)
            yield family


_watched: dict[tuple[int, str], ProducerCollector] = {}


def watch_publisher(
    publisher: CountsDeliveries, source: str, registry: CollectorRegistry = REGISTRY
) -> ProducerCollector:
    """Export `publisher`'s totals as `source`; a later call for the same source replaces it."""
    key = (id(registry), source)
    if key in _watched:
        registry.unregister(_watched.pop(key))
    collector = _watched[key] = ProducerCollector(publisher, source)
    registry.register(collector)
    return collector


def serve_producer_metrics(port: int, host: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY) -> None:
    """For a long-running generator: its metrics on a port of its own."""
    start_http_server(port, addr=host, registry=registry)
