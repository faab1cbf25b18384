"""Producer metrics read a publisher's running totals when scraped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from entrypoints.producer_metrics import watch_publisher


class _Totals:
    def __init__(self, queued: int, delivered: int, failed: int) -> None:
        self.values = (queued, delivered, failed)

    def totals(self) -> tuple[int, int, int]:
        return self.values


def test_produced_delivered_and_failed_follow_the_publisher():
    registry = CollectorRegistry()
    publisher = _Totals(10, 7, 1)
    watch_publisher(publisher, "generator", registry)
    value = registry.get_sample_value
    assert value("analytics_events_produced_total", {"source": "generator"}) == 10
    assert value("analytics_events_delivered_total", {"source": "generator"}) == 7
    assert value("analytics_events_delivery_failed_total", {"source": "generator"}) == 1
    publisher.values = (12, 12, 1)
    assert value("analytics_events_delivered_total", {"source": "generator"}) == 12


def test_watching_a_source_again_replaces_it():
    registry = CollectorRegistry()
    watch_publisher(_Totals(1, 1, 0), "api", registry)
    watch_publisher(_Totals(5, 5, 0), "api", registry)  # e.g. a second app in one process
    assert registry.get_sample_value("analytics_events_produced_total", {"source": "api"}) == 5
