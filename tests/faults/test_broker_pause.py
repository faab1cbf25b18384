"""The broker frozen (SIGSTOP) for 10 s, then thawed, while `analytics generate` produces and
a worker tails the log: the generator loses nothing, the worker stores every event once."""

from __future__ import annotations

import time

import pytest

from adapters.kafka.topics import ensure_topics
from tests.faults import audit, caught_up, read_log
from tests.integration.platform import Database, platform_env
from tests.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

COUNT = 12_000
RATE = 1_000  # events/s: the generator is still sending (or flushing) when the broker thaws
PAUSE_S = 10.0  # well inside librdkafka's message.timeout.ms (60 s): nothing may be given up
SEED = 9_157


def test_a_broker_frozen_for_ten_seconds_loses_nothing_and_the_worker_stores_every_event_once(
    own_broker, database_url, tmp_path, children
):
    env = platform_env(own_broker.bootstrap, database_url, tmp_path)
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    ensure_topics({"bootstrap.servers": own_broker.bootstrap}, {topic: 3})
    db = Database(database_url)
    stored = "SELECT count(*) FROM events"
    worker = children.start("processor", "process", env=env)
    generator = children.start(
        "generator", "generate", "--count", str(COUNT), "--rate", str(RATE), "--seed", str(SEED), env=env
    )

    before = db.wait_for(stored, 1_000, timeout=60)
    assert 1_000 <= before < COUNT and generator.poll() is None, f"the freeze must fall mid-stream\n{children.tail()}"
    own_broker.pause()
    time.sleep(1.0)  # a commit already past its acknowledgements may still land
    frozen = db.scalar(stored)
    time.sleep(PAUSE_S - 1.0)
    thawed = db.scalar(stored)
    assert generator.poll() is None, f"the generator was still at work when the broker thawed\n{children.tail()}"
    own_broker.resume()

    assert thawed == frozen, "no batch commits while its processed events cannot be acknowledged"
    assert generator.wait(timeout=90) == 0, children.tail("generator")
    assert f"delivered {COUNT}, failed 0" in children.log("generator").read_text(), children.tail("generator")
    log = read_log(own_broker.bootstrap, topic)
    assert len(log.events) == COUNT, f"every event the generator reported delivered is in the log ({log.repeats=})"
    wait_until(
        lambda: caught_up(db, topic, log),
        timeout=60,
        what="the worker stores the whole log once the broker thawed",
        context=children.tail,
    )
    assert worker.poll() is None, f"the worker carried on by itself\n{children.tail()}"
    audit(db, topic, log, context=children.tail)
