"""Feeding the event log: generated traffic or JSON lines, paced and with progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

from application.ports.event_log import DeliveryReport, EventPublisher
from application.traffic import generate_events, partition_key, to_wire
from domain.events import UserEvent


def counting_bar(label: str, clock: ProgressColumn, *, show: bool = True) -> Progress:
    """A bar of events counted against a total, with a `speed` field and `clock` (time left or
    elapsed) after it: producing here, ingesting in the bench."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        clock,
        disable=not show,
        transient=False,
    )


class Pacer:
    """Sleeps just enough to hold a target rate (None = as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._start = time.monotonic()
        self._sent = 0

    def tick(self) -> None:
        self._sent += 1
        if self._interval:
            ahead = self._start + self._sent * self._interval - time.monotonic()
            if ahead > 0.002:
                time.sleep(ahead)


GENERATED_RATE = 1_000.0  # events/s of simulated time when the events are produced as fast as possible

Record = tuple[bytes | None, bytes, int | None]
"""(key, value, log timestamp in ms: when the event reached the platform; None: when it is sent)."""


def backlog_start(count: int, rate: float = GENERATED_RATE) -> datetime:
    """When unpaced traffic of `count` events at `rate` a second starts: it ends now."""
    return datetime.now(UTC) - timedelta(seconds=count / rate)


def arrival_ms(event: UserEvent) -> int:
    """When a generated event reached the platform: as its client sent it (`sent_at`), else at once."""
    return int((event.sent_at or event.timestamp).timestamp() * 1000)


def produce_generated(
    publisher: EventPublisher,
    topic: str,
    count: int,
    *,
    rate: float | None,
    seed: int,
    show_progress: bool = True,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Generate `count` events (seeded) and publish them keyed by user_id; `stop` ends early.

    Paced (`rate`), the events happen as they are sent. Unpaced, they are a backlog: GENERATED_RATE
    events a second that ended just now, each record stamped with the time its event arrived (as
    the log of a platform that was down would hold them). Stamped when sent instead, at 50,000
    a second, most would be minutes ahead of their arrival: clamped to it, their times compressed
    into seconds, ordinary users would look like bots to the anomaly detectors."""
    if rate:
        events = generate_events(count, seed=seed, start=datetime.now(UTC), rate=rate)
        records: Iterable[Record] = ((partition_key(e), to_wire(e), None) for e in events)
    else:
        events = generate_events(count, seed=seed, start=backlog_start(count), rate=GENERATED_RATE)
        records = ((partition_key(e), to_wire(e), arrival_ms(e)) for e in events)
    return _publish(publisher, topic, records, total=count, rate=rate, show_progress=show_progress, stop=stop)


def produce_records(
    publisher: EventPublisher,
    topic: str,
    records: Iterable[Record],
    *,
    total: int | None,
    rate: float | None,
    show_progress: bool = True,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Publish ready-made (key, value) records, paced at `rate`: e.g. labelled traffic whose
    labels the caller writes down as the records are drawn."""
    return _publish(publisher, topic, records, total=total, rate=rate, show_progress=show_progress, stop=stop)


def produce_lines(publisher: EventPublisher, topic: str, lines: BinaryIO) -> DeliveryReport:
    """Publish each non-blank line as-is. Lines that are not valid events still go to the
    log: the dataflow dead-letters them with a reason, so nothing is lost silently."""
    records = ((_key_of(line), line.rstrip(b"\r\n"), None) for line in lines if line.strip())
    return _publish(publisher, topic, records, total=None, rate=None, show_progress=True)


def _key_of(line: bytes) -> bytes | None:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    user_id = doc.get("user_id") if isinstance(doc, dict) else None
    return user_id.encode() if isinstance(user_id, str) else None


def _publish(
    publisher: EventPublisher,
    topic: str,
    records: Iterable[Record],
    *,
    total: int | None,
    rate: float | None,
    show_progress: bool,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    pacer = Pacer(rate)
    progress = counting_bar("producing", TimeRemainingColumn(), show=show_progress)
    with progress:
        task = progress.add_task("produce", total=total, speed="")
        started = time.monotonic()
        for n, (key, value, arrival) in enumerate(records, 1):
            if stop is not None and stop.is_set():
                break
            publisher.publish(topic, key, value, timestamp_ms=arrival)
            pacer.tick()
            if n % 2000 == 0:
                progress.update(task, completed=n, speed=f"{n / (time.monotonic() - started):,.0f} ev/s")
        report = publisher.flush()
        progress.update(
            task, completed=report.delivered + report.failed, total=total or report.delivered + report.failed
        )
    return report
