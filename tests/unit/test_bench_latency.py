"""The latency bench: percentiles from a latency histogram, as Prometheus' histogram_quantile
computes them, the writers' transactions over the window, and the records each offered rate sends."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from entrypoints.bench import latency as bench_latency
from entrypoints.bench.latency import Scrape, describe_writers, histogram_quantile, rate_records, writer_load

INF = float("inf")


def test_the_rank_is_interpolated_inside_its_bucket():
    buckets = [(0.01, 50.0), (0.05, 90.0), (0.1, 100.0), (INF, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.01)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.03)  # halfway through (0.01, 0.05]
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.075)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.005)  # the first bucket starts at 0


def test_a_rank_in_the_infinite_bucket_reports_the_highest_finite_bound():
    assert histogram_quantile(0.99, [(0.1, 10.0), (1.0, 20.0), (INF, 100.0)]) == 1.0


def test_no_observations_have_no_percentile():
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]))
    with pytest.raises(ValueError):
        histogram_quantile(1.5, [(INF, 1.0)])


@pytest.mark.parametrize("seed", [3, 4])
def test_with_fine_buckets_it_is_close_to_the_exact_percentile(seed):
    rng = random.Random(seed)
    values = sorted(rng.uniform(0, 1) for _ in range(10_000))
    bounds = [i / 100 for i in range(1, 101)] + [INF]
    buckets, index = [], 0
    for bound in bounds:
        while index < len(values) and values[index] <= bound:
            index += 1
        buckets.append((bound, float(index)))
    for q in (0.5, 0.95, 0.99):
        assert histogram_quantile(q, buckets) == pytest.approx(values[int(q * len(values)) - 1], abs=0.01)


def test_each_offered_rate_sends_events_no_other_rate_sent():
    def event_ids(rate: float, count: int) -> set[str]:
        return {orjson.loads(value)["event_id"] for _, value in rate_records(rate, count)}

    slow, fast = event_ids(1000, 3_000), event_ids(10_000, 30_000)
    assert len(slow) == 3_000 and len(fast) == 30_000
    assert not slow & fast  # else the faster run would time redeliveries


def _totals(transactions: float, seconds: float, events: float, read_to_commit: float) -> Scrape:
    return Scrape(
        latency={},
        totals={
            "analytics_db_write_seconds_count": transactions,
            "analytics_db_write_seconds_sum": seconds,
            "analytics_batch_events_count": transactions,
            "analytics_batch_events_sum": events,
            "analytics_batch_processing_seconds_count": transactions,
            "analytics_batch_processing_seconds_sum": read_to_commit,
        },
    )


def test_the_writers_load_is_what_the_window_added_to_the_transaction_histograms():
    # Before the window: the warm-up's 40 transactions. In it, 3 partitions over 10 s: 300 more,
    # of 90 events each on average, that kept their writers busy 24 of the 30 writer-seconds.
    # Their oldest records had been read 130 ms before each commit: 50 waiting for the writer.
    before, after = _totals(40, 2.0, 2_000, 3.0), _totals(340, 26.0, 29_000, 42.0)

    load = writer_load(before, after, seconds=10.0, partitions=3)

    assert load == {
        "transactions_per_s": 30.0,
        "events_per_transaction": 90.0,
        "transaction_ms": 80.0,
        "read_to_commit_ms": 130.0,
        "busy": 0.8,
    }
    assert describe_writers(load) == (
        "30.0 a second of 90.0 events, 80.0 ms each (130.0 from read to commit); writers busy 80%"
    )


def test_a_window_without_a_transaction_reports_idle_writers():
    quiet = _totals(40, 2.0, 2_000, 3.0)
    assert writer_load(quiet, quiet, seconds=10.0, partitions=3)["busy"] == 0.0
    assert writer_load(Scrape({}, {}), Scrape({}, {}), seconds=0.0, partitions=3)["transactions_per_s"] == 0.0


def test_a_settled_scrape_waits_until_the_workers_metrics_hold_every_committed_batch(monkeypatch):
    # The store shows 300 records committed; the workers' metrics catch up one batch at a time.
    offsets = iter([200.0, 250.0, 300.0, 300.0])
    monkeypatch.setattr(
        bench_latency, "scrape", lambda ports: Scrape({}, {"analytics_committed_offset": next(offsets)})
    )

    settled = bench_latency.scrape_settled([9100, 9101], committed=300, timeout=5)

    assert settled.totals["analytics_committed_offset"] == 300.0
    assert next(offsets) == 300.0  # it stopped at the first scrape that had them all


def test_a_settled_scrape_gives_up_after_its_timeout_with_what_it_last_read(monkeypatch):
    monkeypatch.setattr(bench_latency, "scrape", lambda ports: Scrape({}, {"analytics_committed_offset": 10.0}))

    assert bench_latency.scrape_settled([9100], committed=300, timeout=0.1).totals["analytics_committed_offset"] == 10.0
