"""Fault injection: break a running platform, let it heal by itself, then prove it exact.

Every test here ends with `audit`: what the event log holds, read back with a plain
consumer, against what Postgres stored, every projection recomputed without the
product's code (`tests.integration.expected`). The only help a test gives the platform
is what a supervisor gives: starting again a process that died.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil
from confluent_kafka import Consumer, KafkaError, TopicPartition

from domain.errors import InvalidEvent
from domain.events import UserEvent
from domain.validation import parse_event
from entrypoints.processor import MEMBER_NAME
from tests.integration.expected import FUTURE, event_time, expected_projections, stored_projections
from tests.integration.platform import MALFORMED, Database, expected_users, start_analytics

_BACKTRACE_FRAME = re.compile(r"\s+(\d+: |at )")


class Children:
    """`analytics` child processes, each logging to its own file; whatever still runs at the
    end of the test is killed (its cluster members first) by the fixture that made this."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
        proc = start_analytics(*args, env=env, log=self.log(name))
        self._started.append((name, proc))
        return proc

    def log(self, name: str) -> Path:
        return self._logs / f"{name}.log"

    def tail(self, *names: str, lines: int = 25) -> str:
        """The last lines of the named logs (all of them by default), for assertion messages."""
        chosen = names or tuple(dict.fromkeys(name for name, _ in self._started))
        parts = []
        for name in chosen:
            text = self.log(name).read_text(errors="replace") if self.log(name).exists() else ""
            # A dataflow that stops on an error ends its log with a long native backtrace: skip its frames.
            kept = [line for line in text.splitlines() if not _BACKTRACE_FRAME.match(line)]
            parts.append(f"--- {name}.log ---\n" + "\n".join(kept[-lines:]))
        return "\n".join(parts)

    def kill_all(self) -> None:
        for _, proc in reversed(self._started):
            if proc.poll() is not None:
                continue
            try:
                members = psutil.Process(proc.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                members = []
            for member in members:
                member.kill()
            proc.kill()
            proc.wait()


def cluster_members(proc: subprocess.Popen, count: int, timeout: float = 30) -> list[psutil.Process]:
    """The members an `analytics process --processes N` parent forked, by process id (their names)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            members = {
                int(name.removeprefix(MEMBER_NAME)): p
                for p in psutil.Process(proc.pid).children()
                if (name := p.name()).startswith(MEMBER_NAME)
            }
        except psutil.Error:  # one just started or ended: look again
            members = {}
        if len(members) == count:
            return [members[i] for i in sorted(members)]
        time.sleep(0.05)
    raise AssertionError(f"{count} cluster members did not start within {timeout}s")


@dataclass
class LogContents:
    """A topic as a consumer reads it: the first record of every event id, the repeats,
    the records that are not events, and where each partition ends."""

    events: dict[str, UserEvent] = field(default_factory=dict)  # by id, in log order per partition
    received: dict[str, datetime] = field(default_factory=dict)  # record timestamp of that first record
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # its (partition, offset)
    malformed: list[tuple[int, int]] = field(default_factory=list)
    repeats: int = 0
    ends: dict[int, int] = field(default_factory=dict)  # partition -> offset after its last record


def read_log(bootstrap: str, topic: str, timeout: float = 60) -> LogContents:
    """Every record of `topic`, from the start to the end of each partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"faults-audit-{os.getpid()}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        log = LogContents(ends=dict.fromkeys(partitions, 0))
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while at_end != set(partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: partitions {sorted(set(partitions) - at_end)} not read to the end")
            for message in consumer.consume(5000, timeout=0.5):
                if message.error() is not None:
                    if message.error().code() != KafkaError._PARTITION_EOF:
                        raise AssertionError(f"reading {topic}: {message.error().str()}")
                    at_end.add(message.partition())
                    continue
                _add_record(log, message.partition(), message.offset(), message.value(), message.timestamp()[1])
        return log
    finally:
        consumer.close()


def _add_record(log: LogContents, partition: int, offset: int, value: bytes, timestamp_ms: int) -> None:
    log.ends[partition] = offset + 1
    if value in MALFORMED:
        log.malformed.append((partition, offset))
        return
    try:
        event = parse_event(value)
    except InvalidEvent as error:  # only the tests' own MALFORMED records are meant to be invalid
        raise AssertionError(f"unexpected invalid record at {partition}/{offset}: {error}") from None
    event_id = str(event.event_id)
    if event_id in log.events:
        log.repeats += 1
        return
    log.events[event_id] = event
    log.received[event_id] = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    log.positions[event_id] = (partition, offset)


def consumed(db: Database, topic: str) -> dict[int, int]:
    """The offsets the dataflow committed with its data: partition -> next offset."""
    return dict(db.rows(f"SELECT partition, next_offset FROM consumer_offsets WHERE topic = '{topic}'"))


def caught_up(db: Database, topic: str, log: LogContents) -> bool:
    return consumed(db, topic) == {p: end for p, end in log.ends.items() if end > 0}


def audit(db: Database, topic: str, log: LogContents, context: Callable[[], str] = str) -> None:
    """Each event of the log stored once, from its first record, with the event time the
    rules give; each malformed record dead-lettered once; every projection and the users
    equal to an independent computation; every partition consumed to its end."""
    events = list(log.events.values())
    timing = {i: _timing(e, log.received[i]) for i, e in log.events.items()}
    stored = {
        r[0]: r[1:]
        for r in db.rows(
            "SELECT event_id::text, source_partition, source_offset, received_at, event_time, late, future_clamped"
            " FROM events"
        )
    }
    expected = {i: (*log.positions[i], log.received[i], *timing[i]) for i in log.events}
    _same("events", stored, expected, context)
    dead = db.rows(
        f"SELECT source_partition, source_offset FROM failed_events WHERE source_topic = '{topic}' ORDER BY 1, 2"
    )
    _same("dead-lettered log positions", Counter(dead), Counter(log.malformed), context)
    projections = expected_projections(events, log.received)
    for name, rows in stored_projections(db).items():
        _same(name, Counter(rows), Counter(projections[name]), context)
    _same("users", db.users(), expected_users(events, {i: t[0] for i, t in timing.items()}), context)
    _same("committed offsets", consumed(db, topic), {p: e for p, e in log.ends.items() if e > 0}, context)


def _timing(event: UserEvent, received: datetime) -> tuple[datetime, bool, bool]:
    moment, late = event_time(event, received)
    corrected = event.timestamp + (received - event.sent_at) if event.sent_at else event.timestamp
    return moment, late, corrected > received + FUTURE


def _same(what: str, actual: dict | Counter, expected: dict | Counter, context: Callable[[], str]) -> None:
    """Equality with a readable account of the difference (these tables hold thousands of rows)."""
    if actual == expected:
        return
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    wrong = [(k, actual[k], expected[k]) for k in expected if k in actual and actual[k] != expected[k]]
    raise AssertionError(
        f"{what}: {len(actual)} stored, {len(expected)} expected; {len(missing)} missing {missing[:3]}, "
        f"{len(extra)} unexpected {extra[:3]}, {len(wrong)} differ (stored, expected) {wrong[:3]}\n{context()}"
    )
