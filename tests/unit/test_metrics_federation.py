"""The API's /metrics in a one-machine run: its own families merged with its siblings'."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from adapters.loopback import free_port
from entrypoints.metrics_federation import FederatedMetrics
from entrypoints.producer_metrics import ProducerCollector


class _Totals:
    def __init__(self, values: tuple[int, int, int]) -> None:
        self.values = values

    def totals(self) -> tuple[int, int, int]:
        return self.values


def _sibling(registry: CollectorRegistry) -> str:
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    return f"http://127.0.0.1:{port}/metrics"


def test_each_family_appears_once_with_every_process_samples():
    generator = CollectorRegistry()
    generator.register(ProducerCollector(_Totals((10, 9, 1)), "generator"))
    worker = CollectorRegistry()
    Counter("analytics_events_processed", "stored", ["partition"], registry=worker).labels("0").inc(7)
    api = CollectorRegistry()
    down = f"http://127.0.0.1:{free_port()}/metrics"  # a sibling that is not running: skipped
    federated = FederatedMetrics(
        [_sibling(generator), _sibling(worker), down], local=[ProducerCollector(_Totals((2, 2, 0)), "api")]
    )
    api.register(federated)  # registering must not scrape (nor clash with) anything yet

    text = generate_latest(api).decode()
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names))
    delivered = {s.labels["source"]: s.value for f in families for s in f.samples if s.name.endswith("delivered_total")}
    assert delivered == {"api": 2, "generator": 9}
    assert 'analytics_events_processed_total{partition="0"} 7.0' in text
    assert text.count("# HELP analytics_events_produced_total") == 1
