"""The live dashboard's snapshot: one read of everything the page plots.

Built from the read ports only. Lag needs the log's end offsets from the broker; when the
broker does not answer, the snapshot says so (lag null, `lag_error`) instead of failing,
since everything else on the page still comes from the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import Field

from application.ports.queries import AnalyticsQueries
from application.views import (
    AnomalyView,
    ConsumerProgressView,
    MinuteWindowView,
    RateBucketView,
    View,
)
from domain.errors import AnalyticsError
from domain.windows import RATE_BUCKET, window_start

THROUGHPUT_MINUTES = 5
CLOSED_MINUTES = 15
LATEST_ANOMALIES = 10

LogEndOffsets = Callable[[], Mapping[int, int]]


class PartitionProgress(View):
    partition: int
    next_offset: int | None = Field(description="first offset not yet stored; null before the first commit")
    log_end_offset: int | None = Field(description="null when the broker did not answer")
    lag: int | None = Field(description="records in the log not yet stored; null when unknown")
    received_until: datetime | None
    committed_at: datetime | None
    latency_s: float | None = Field(description="receipt of the last batch's newest event to its commit")


class MinuteRevenue(View):
    window_start: datetime
    purchases: int
    revenue: Decimal


class DashboardSnapshot(View):
    generated_at: datetime
    watermark: datetime | None = Field(description="newest receive time stored; null before the first event")
    events_per_second: float = Field(description="over the 5 closed minutes before the watermark")
    throughput: list[RateBucketView] = Field(description="10-second buckets up to the watermark, oldest first")
    latency_s: float | None = Field(description="receipt to commit, of the most recently committed batch")
    lag: int | None = Field(description="records not yet stored, all partitions; null when unknown")
    lag_error: str | None = Field(description="why the lag is unknown")
    partitions: list[PartitionProgress]
    closed_minutes: int = Field(description="how many closed minute windows the breakdowns cover")
    by_event_type: dict[str, int]
    by_country: dict[str, int]
    by_device: dict[str, int]
    purchases: int
    revenue: Decimal
    revenue_by_minute: list[MinuteRevenue] = Field(description="closed minutes, oldest first")
    anomalies: list[AnomalyView] = Field(description="most recent first")


def dashboard_snapshot(
    queries: AnalyticsQueries,
    *,
    topic: str,
    now: datetime,
    allowed_lateness_s: float,
    log_end_offsets: LogEndOffsets | None = None,
) -> DashboardSnapshot:
    """Everything the dashboard shows, for the consumers of `topic` (the events topic)."""
    realtime = queries.realtime(CLOSED_MINUTES, allowed_lateness_s)
    ends, lag_error = _log_ends(log_end_offsets)
    partitions = partition_progress([p for p in queries.consumer_progress() if p.topic == topic], ends)
    newest = max((p for p in partitions if p.committed_at is not None), key=lambda p: p.committed_at, default=None)
    windows = realtime.windows[::-1]  # oldest first, as plotted
    return DashboardSnapshot(
        generated_at=now,
        watermark=realtime.watermark,
        events_per_second=realtime.events_per_second,
        throughput=filled_throughput(queries.throughput(THROUGHPUT_MINUTES), realtime.watermark, THROUGHPUT_MINUTES),
        latency_s=newest.latency_s if newest else None,
        lag=sum(p.lag or 0 for p in partitions) if ends is not None else None,
        lag_error=lag_error,
        partitions=partitions,
        closed_minutes=len(windows),
        by_event_type=_summed(w.by_event_type for w in windows),
        by_country=_summed(w.by_country for w in windows),
        by_device=_summed(w.by_device for w in windows),
        purchases=sum(w.purchases for w in windows),
        revenue=sum((w.revenue for w in windows), Decimal(0)),
        revenue_by_minute=[_minute_revenue(w) for w in windows],
        anomalies=queries.anomalies(None, 0.0, LATEST_ANOMALIES),
    )


def partition_progress(
    positions: Iterable[ConsumerProgressView], log_ends: Mapping[int, int] | None
) -> list[PartitionProgress]:
    """One row per partition of the log or of the positions, by partition number.

    Several consumers may have committed a partition (a renamed consumer, another cluster);
    the most recent commit speaks for it. A partition nobody has committed yet lags by
    its whole log (offsets start at 0; retention may have trimmed a little of it).
    """
    latest: dict[int, ConsumerProgressView] = {}
    for p in positions:
        if p.partition not in latest or p.updated_at > latest[p.partition].updated_at:
            latest[p.partition] = p
    out = []
    for partition in sorted(set(latest) | set(log_ends or {})):
        position, end = latest.get(partition), (log_ends or {}).get(partition)
        committed = position.next_offset if position else None
        out.append(
            PartitionProgress(
                partition=partition,
                next_offset=committed,
                log_end_offset=end,
                lag=max(end - (committed or 0), 0) if end is not None else None,
                received_until=position.received_until if position else None,
                committed_at=position.updated_at if position else None,
                latency_s=_latency(position),
            )
        )
    return out


def filled_throughput(buckets: list[RateBucketView], watermark: datetime | None, minutes: int) -> list[RateBucketView]:
    """Every 10-second bucket of the last `minutes` up to the watermark, empty ones as zeros,
    so a quiet stretch plots as a dip rather than a line drawn across it."""
    if watermark is None:
        return buckets
    stored = {b.bucket_start: b for b in buckets}
    start = window_start(watermark - timedelta(minutes=minutes), RATE_BUCKET)
    end = max([window_start(watermark, RATE_BUCKET), *stored])  # the watermark may move between two reads
    count = int((end - start) / RATE_BUCKET) + 1
    starts = [start + n * RATE_BUCKET for n in range(count)]
    return [stored.get(s) or RateBucketView(bucket_start=s, events=0, events_per_second=0.0) for s in starts]


def _log_ends(log_end_offsets: LogEndOffsets | None) -> tuple[Mapping[int, int] | None, str | None]:
    if log_end_offsets is None:
        return None, "the log's end offsets are not available to this API"
    try:
        return log_end_offsets(), None
    except AnalyticsError as error:
        return None, f"the broker did not give the log end offsets: {error}"


def _latency(position: ConsumerProgressView | None) -> float | None:
    if position is None or position.received_until is None:
        return None
    return (position.updated_at - position.received_until).total_seconds()


def _summed(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(total.most_common())


def _minute_revenue(window: MinuteWindowView) -> MinuteRevenue:
    return MinuteRevenue(window_start=window.window_start, purchases=window.purchases, revenue=window.revenue)
