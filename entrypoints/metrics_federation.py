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
    """The siblings' families merged with `local` collectors' families of the same names
    (the API's and the generator's producer totals differ only by `source`), so each family
    appears once, as the text format requires."""

    def __init__(self, urls: Sequence[str], local: Sequence[Collector] = (), timeout_s: float = 1.0) -> None:
        self._urls = list(urls)
        self._local = list(local)
        self._timeout_s = timeout_s

    def describe(self) -> list[Metric]:
        # Nothing to promise up front: the siblings' names are only known when they answer,
        # and the registry must not scrape them (or clash on them) at registration.
        return []

    def collect(self) -> Iterator[Metric]:
        seen: dict[str, Metric] = {}
        for collector in self._local:
            for family in collector.collect():
                seen[family.name] = family
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
