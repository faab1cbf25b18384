"""Postgres stopped (fast shutdown) while events stream, down for seconds, started again on
the same socket: the running worker carries on by itself and stores every event once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from adapters.kafka.publisher import KafkaEventPublisher
from adapters.kafka.topics import ensure_topics
from adapters.postgres.engine import create_postgres_engine, upgrade_schema
from application.ports.event_log import DeliveryReport
from application.traffic import generate_events, partition_key, to_wire
from tests.faults import audit, caught_up, read_log
from tests.integration.platform import MALFORMED, Database, platform_env
from tests.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

COUNT = 12_000
RATE = 1_500.0  # events/s once the worker is up: 5 s of stream, the outage falls inside it
DOWN_S = 5.0
SEED = 4_409


class PacedProducer(threading.Thread):
    """Seeded events, the first `head` at once, the rest at `rate` per second from `go` on
    (so the stream is still flowing once the worker has started), with a producer retry
    (the same event again) every `retry_every` and a malformed record every `bad_every`."""

    def __init__(
        self, env: dict[str, str], count: int, *, head: int, rate: float, retry_every=450, bad_every=350
    ) -> None:
        super().__init__(name="paced-producer", daemon=True)
        self.go = threading.Event()
        self._head = head
        self._config = {"bootstrap.servers": env["ANALYTICS_KAFKA_BOOTSTRAP"]}
        self._topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
        self._count, self._rate = count, rate
        self._retry_every, self._bad_every = retry_every, bad_every
        self.sent_ids: list[str] = []
        self.report: DeliveryReport | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._produce()
        except BaseException as error:  # reported by the test, not lost on this thread
            self.error = error

    def _produce(self) -> None:
        publisher = KafkaEventPublisher(self._config)
        events = generate_events(self._count, seed=SEED, start=datetime.now(UTC), rate=self._rate)
        for n, event in enumerate(events, 1):
            if n == self._head + 1:
                self.go.wait(timeout=60)
                began = time.monotonic() - n / self._rate
            key, value = partition_key(event), to_wire(event)
            publisher.publish(self._topic, key, value)
            self.sent_ids.append(str(event.event_id))
            if n % self._retry_every == 0:
                publisher.publish(self._topic, key, value)
            if n % self._bad_every == 0:
                publisher.publish(self._topic, key, MALFORMED[(n // self._bad_every) % len(MALFORMED)])
            if n > self._head and (ahead := began + n / self._rate - time.monotonic()) > 0:
                time.sleep(ahead)
        self.report = publisher.close()


def test_postgres_restarted_mid_stream_the_worker_carries_on_and_stores_every_event_once(
    kafka_bootstrap, own_postgres, tmp_path, children
):
    url = own_postgres.create_database("analytics")
    engine = create_postgres_engine(url, pool_size=1)
    upgrade_schema(engine)
    engine.dispose()
    env = platform_env(kafka_bootstrap, url, tmp_path, ANALYTICS_PROCESSOR_BATCH_SIZE="500")
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, {topic: 3})
    db = Database(url)
    worker = children.start("processor", "process", env=env)
    # A backlog first, so the worker is busy writing when the database goes: transactions are cut.
    producer = PacedProducer(env, COUNT, head=COUNT // 3, rate=RATE)
    producer.start()
    assert db.wait_for("SELECT count(*) FROM events", 1, timeout=60) > 0, children.tail()  # the worker is up
    producer.go.set()

    before = db.wait_for("SELECT count(*) FROM events", COUNT // 10, timeout=60)
    assert COUNT // 10 <= before < COUNT and producer.is_alive(), f"the outage must fall mid-stream ({before})"
    socket_dir = own_postgres.socket_dir
    own_postgres.stop()  # pg_ctl's default: fast shutdown, open sessions are cut, open transactions abort
    sent_at_stop = len(producer.sent_ids)
    time.sleep(DOWN_S)
    assert worker.poll() is None, f"the worker must wait for the database, not die\n{children.tail()}"
    assert len(producer.sent_ids) > sent_at_stop, "events kept coming while the database was down"
    own_postgres.start()
    assert own_postgres.socket_dir == socket_dir, "started again where the worker looks for it"

    producer.join(timeout=60)
    assert producer.error is None and producer.report is not None and producer.report.failed == 0, producer.error
    log = read_log(kafka_bootstrap, topic)
    assert sorted(log.events) == sorted(producer.sent_ids), "every event sent is in the log"
    wait_until(
        lambda: caught_up(db, topic, log),
        timeout=60,
        what="the worker stores the whole log after the restart",
        context=children.tail,
    )
    assert worker.poll() is None, f"the worker carried on by itself, it was never restarted\n{children.tail()}"
    assert "event store or broker unavailable, retrying" in children.log("processor").read_text(), (
        "the worker must have met the outage (else this test proves nothing)"
    )
    audit(db, topic, log, context=children.tail)
