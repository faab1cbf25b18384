"""Helpers for integration tests that drive the real `analytics` command line."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.topics import ensure_topics
from application.traffic import generate_events, partition_key, to_wire
from domain.events import UserEvent
from entrypoints.cli.common import analytics_argv

_runs = itertools.count()


def _now() -> datetime:
    return datetime.now(UTC)


MALFORMED = [
    b"not json at all",
    b'{"event_id": "x"}',
    b"\xff\xfe invalid utf-8",
    b"[1, 2, 3]",
    json.dumps({"event_type": "teleport", "user_id": "u"}).encode(),
]


@dataclass
class Workload:
    """What was produced, so tests can compute the expected tables independently."""

    valid: list[UserEvent] = field(default_factory=list)
    malformed: int = 0
    retried: int = 0

    @property
    def records(self) -> int:
        return len(self.valid) + self.retried + self.malformed


def platform_env(kafka_bootstrap: str, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for `analytics` subprocesses on a topic of their own."""
    run = f"{os.getpid()}-{next(_runs)}-{random.randrange(10**6)}"
    return {
        **os.environ,
        "ANALYTICS_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ANALYTICS_DATABASE_URL": database_url,
        "ANALYTICS_DATA_DIR": str(data_dir),
        "ANALYTICS_KAFKA_EVENTS_TOPIC": f"test-user-events-{run}",
        "ANALYTICS_KAFKA_ANALYTICS_TOPIC": f"test-user-analytics-{run}",
        "ANALYTICS_KAFKA_ANOMALIES_TOPIC": f"test-user-anomalies-{run}",
        "ANALYTICS_PROCESSOR_AUTO_TRAIN": "false",  # tests that want it say so
        **extra,
    }


def analytics(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(analytics_argv(*args), env=env, capture_output=True, timeout=timeout)


STOP_TIMEOUT = 90.0
"""How long a signalled `analytics` process may take to stop. It takes well under a second; the
bound is generous because a shared CI host has been seen to stall this VM for 40 s at a time."""


def start_analytics(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(analytics_argv(*args), env=env, stdout=out, stderr=subprocess.STDOUT)


def _shift_time(event: UserEvent, n: int) -> UserEvent:
    """Every kind of clock trouble, in turn: late by 2 h, 2 h in the future, a client clock 3 h slow."""
    kind = n % 3
    if kind == 0:
        return event.model_copy(update={"timestamp": event.timestamp - timedelta(hours=2)})
    if kind == 1:
        return event.model_copy(update={"timestamp": event.timestamp + timedelta(hours=2)})
    slow = timedelta(hours=3)
    return event.model_copy(update={"timestamp": event.timestamp - slow, "sent_at": event.timestamp - slow})


def produce_workload(
    env: dict[str, str],
    count: int,
    *,
    seed: int,
    retry_every: int = 500,
    bad_every: int = 400,
    shift_every: int | None = None,
) -> Workload:
    """`count` generated events, some sent twice (retries), malformed records mixed in,
    and with `shift_every`, late, far-future and clock-skewed events too."""
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    config = {"bootstrap.servers": env["ANALYTICS_KAFKA_BOOTSTRAP"]}
    ensure_topics(config, {topic: 3})
    publisher = KafkaEventPublisher(config)
    workload = Workload()
    for n, event in enumerate(generate_events(count, seed=seed, start=_now(), rate=2000.0), 1):
        if shift_every and n % shift_every == 0:
            event = _shift_time(event, n // shift_every)
        publisher.publish(topic, partition_key(event), to_wire(event))
        workload.valid.append(event)
        if n % retry_every == 0:  # a producer retry: same event, same key, again
            publisher.publish(topic, partition_key(event), to_wire(event))
            workload.retried += 1
        if n % bad_every == 0:
            publisher.publish(topic, partition_key(event), MALFORMED[(n // bad_every) % len(MALFORMED)])
            workload.malformed += 1
    report = publisher.close()
    assert report.failed == 0 and report.delivered == workload.records, report
    return workload


def expected_users(events: list[UserEvent], event_times: dict[str, datetime] | None = None) -> dict[str, tuple]:
    """The users table computed without the product's code: plain dictionaries.

    Times are the events' timestamps, or their event times by id when given."""
    users: dict[str, dict] = {}
    for e in events:
        t = event_times[str(e.event_id)] if event_times else e.timestamp
        u = users.setdefault(e.user_id, {"first": t, "last": t, "n": 0, "buys": 0, "spent": 0, "country": e.country})
        u["first"] = min(u["first"], t)
        if t >= u["last"]:
            u["last"], u["country"] = t, e.country
        u["n"] += 1
        if e.event_type == "purchase":
            u["buys"] += 1
            u["spent"] += e.value
    return {k: (v["first"], v["last"], v["n"], v["buys"], v["spent"], v["country"]) for k, v in users.items()}


class Database:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, poolclass=NullPool)

    def scalar(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()

    def rows(self, sql: str) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]

    def execute(self, sql: str) -> None:
        """A write, committed."""
        with self.engine.begin() as conn:
            conn.execute(text(sql))

    def users(self) -> dict[str, tuple]:
        rows = self.rows(
            "SELECT user_id, first_seen, last_seen, total_events, total_purchases, total_spent, country FROM users"
        )
        return {r[0]: r[1:] for r in rows}

    def event_times(self) -> dict[str, datetime]:
        """Each stored event's event time (an input of the users projection), by id."""
        return dict(self.rows("SELECT event_id::text, event_time FROM events"))

    def wait_for(self, sql: str, target: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while (value := self.scalar(sql)) < target and time.monotonic() < deadline:
            time.sleep(0.1)
        return value


EVENT_COLUMNS = (
    "event_id, user_id, session_id, event_type, timestamp, device, country, value, data, sent_at, "
    "received_at, source_topic, source_partition, source_offset, event_time, late, future_clamped"
)
FAILED_COLUMNS = (
    "event_id, error_type, error_reason, raw_data, raw_encoding, source_topic, source_partition, source_offset"
)
