"""`analytics bench`: the live bar of the ingest it times, and the timeline that bar leaves in
the report, one (seconds since the dataflow started, events committed) point a second.

The timeline is what tells a rate that sags as the run goes on from one that was slow
throughout, and shows how coarse the commits are: a short run whose partitions commit a few
large batches each has a "steady" rate that is mostly its last commits.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Self

from rich.progress import TimeElapsedColumn

from entrypoints.feeding import counting_bar


class IngestProgress:
    """A live bar of the events committed so far, and the timeline it leaves in the report: one
    (seconds since the dataflow started, events committed) point a second, so a rate that sags
    as the run goes on shows apart from one that was slow throughout."""

    def __init__(self, total: int, began: float, *, every: float = 1.0, show: bool = True) -> None:
        self.timeline: list[tuple[float, int]] = []
        self._began, self._every = began, every
        self._bar = counting_bar("ingesting", TimeElapsedColumn(), show=show)
        self._task = self._bar.add_task("ingest", total=total, speed="starting")

    def __enter__(self) -> Self:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()

    def update(self, now: float, consumed: int, *, done: bool = False) -> None:
        elapsed = now - self._began
        last_at = self.timeline[-1][0] if self.timeline else 0.0
        if not done and elapsed - last_at < self._every:
            return
        speed = f"{consumed / elapsed:,.0f} ev/s since start" if consumed else "starting"
        self.timeline.append((round(elapsed, 2), consumed))
        self._bar.update(self._task, completed=consumed, speed=speed)


def rates_by_quarter(timeline: Sequence[tuple[float, int]]) -> list[float]:
    """Events/s committed in each quarter of the steady window (first commit to last), read off
    the report's timeline (interpolated between its points); empty when there is no such window."""
    steady = [(at, committed) for at, committed in timeline if committed > 0]
    if len(steady) < 2 or steady[-1][0] <= steady[0][0]:
        return []
    times, counts = [at for at, _ in steady], [committed for _, committed in steady]
    start, end = times[0], times[-1]
    bounds = [start + (end - start) * q / 4 for q in range(5)]
    committed = [_interpolate(times, counts, at) for at in bounds]
    quarter = (end - start) / 4
    return [round((high - low) / quarter, 1) for low, high in itertools.pairwise(committed)]


def _interpolate(times: Sequence[float], counts: Sequence[int], at: float) -> float:
    right = min(bisect.bisect_left(times, at), len(times) - 1)
    if right == 0 or times[right] == at:
        return counts[right]
    left = right - 1
    share = (at - times[left]) / (times[right] - times[left])
    return counts[left] + share * (counts[right] - counts[left])
