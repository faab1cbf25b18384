"""One `/metrics` for a one-machine run: the API's own metrics plus those of its siblings.

`analytics up` runs the dataflow and the generator as separate processes, each with its own
metrics port. With `ANALYTICS_API_METRICS_FROM` set to their URLs, the API's `/metrics`
also shows their families, read when it is scraped. In a deployment Prometheus scrapes every
process itself and this stays unset, so nothing is counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import httpx
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Every process exports these about itself; the API's own stay, the siblings' would clash.
_PER_PROCESS = ("process_", "python_")


class FederatedMetrics(Collector):
    def __init__(self, urls: Sequence[str], timeout_s: float = 1.0) -> None:
        self._urls = list(urls)
        self._timeout_s = timeout_s

    def collect(self) -> Iterator[Metric]:
        seen: dict[str, Metric] = {}
        for url in self._urls:
            try:
                text = httpx.get(url, timeout=self._timeout_s).text
            except httpx.HTTPError as error:
                log.debug("sibling metrics unavailable", extra={"url": url, "error": str(error)})
                continue
            for family in text_string_to_metric_families(text):
                if family.name.startswith(_PER_PROCESS):
                    continue
                if family.name in seen:  # the same family from two dataflow processes: one family
                    seen[family.name].samples.extend(family.samples)
                else:
                    seen[family.name] = family
        yield from seen.values()
