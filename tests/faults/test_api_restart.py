"""`analytics api` stopped (SIGTERM), later killed (kill -9), each time started again on the
same port, while clients post: every event answered 202 is stored once, retries included, and
every invalid one is dead-lettered once (the clients retry with their Idempotency-Key)."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from adapters.kafka.topics import ensure_topics
from adapters.loopback import free_port
from application.traffic import generate_events, to_wire
from tests.faults import audit, caught_up, read_log
from tests.integration.platform import Database, platform_env
from tests.processes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CLIENTS = 3
BATCHES = 50  # per client
BATCH = 40  # events per request
PAUSE_S = 0.1  # between a client's requests: about 1,200 events/s in all
KEY = "fault-ingest"
SEED = 5_303


class PostingClient(threading.Thread):
    """Posts batches of seeded events as a careful client does: a refused connection, a
    dropped one or a 5xx is retried with the same events (same event ids) and the same
    Idempotency-Key until answered 202. Some batches carry an invalid event; those and every
    tenth valid batch are sent twice, as after a response lost on its way back."""

    def __init__(self, number: int, url: str) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self._url = url
        self._rng = random.Random(SEED + number)
        start = datetime.now(UTC)
        self.events = list(generate_events(BATCHES * BATCH, seed=SEED + number, start=start, rate=400.0))
        self.acked: list[str] = []  # valid event ids answered 202
        self.invalid: Counter[str] = Counter()  # invalid event ids, by attempts that may have reached the API
        self.refused = 0  # no connection: the request certainly was not processed
        self.ambiguous = 0  # dropped or 5xx: it may have been, in part
        self.resent = 0  # valid events sent again after a 202
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self._url, headers={"X-API-Key": KEY}, timeout=30) as http:
                for n in range(BATCHES):
                    self._post_batch(http, n)
                    time.sleep(PAUSE_S)
        except BaseException as error:  # reported by the test, not lost on this thread
            self.error = error

    def _post_batch(self, http: httpx.Client, n: int) -> None:
        docs = [json.loads(to_wire(e)) for e in self.events[n * BATCH : (n + 1) * BATCH]]
        invalid_id = None
        if n % 7 == 3:  # an event of an unknown type, in the middle of the batch
            invalid_id = str(uuid.UUID(int=self._rng.getrandbits(128)))
            docs.insert(BATCH // 2, {**docs[0], "event_id": invalid_id, "event_type": "teleport"})
        body = json.dumps(docs).encode()
        key = str(uuid.UUID(int=self._rng.getrandbits(128)))
        attempts = self._post_until_accepted(http, body, key, invalid_at=BATCH // 2 if invalid_id else None)
        self.acked += [d["event_id"] for d in docs if d["event_id"] != invalid_id]
        if invalid_id:  # and sent again, as after a lost response: its dead letter must not double
            self.invalid[invalid_id] = attempts + self._post_until_accepted(http, body, key, invalid_at=BATCH // 2)
            self.resent += BATCH
        elif n % 10 == 9:
            self._post_until_accepted(http, body, key, invalid_at=None)
            self.resent += BATCH

    def _post_until_accepted(self, http: httpx.Client, body: bytes, key: str, invalid_at: int | None) -> int:
        """Posts until 202; returns how many attempts may have reached the collector."""
        deadline, reached = time.monotonic() + 60, 1
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        while time.monotonic() < deadline:
            try:
                response = http.post("/v1/events", content=body, headers=headers)
            except httpx.ConnectError:
                self.refused += 1
            except httpx.TransportError:
                self.ambiguous += 1
                reached += 1
            else:
                if response.status_code == 202:
                    rejected = [r["index"] for r in response.json()["rejected"]]
                    assert rejected == ([invalid_at] if invalid_at is not None else []), response.text
                    return reached
                assert response.status_code >= 500 or response.status_code == 429, response.text
                self.ambiguous += 1
                reached += 1
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: no 202 within 60 s")


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for_accepted(clients: list[PostingClient], count: int, children) -> None:
    wait_until(
        lambda: sum(len(c.acked) for c in clients) >= count,
        timeout=60,
        what=f"{count} events accepted",
        context=children.tail,
    )


def test_api_stopped_and_killed_while_clients_post_stores_every_accepted_event_once(
    kafka_bootstrap, database_url, tmp_path, children
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = platform_env(kafka_bootstrap, database_url, tmp_path, ANALYTICS_API_KEYS=f"{KEY}:ingest")
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, {topic: 3})
    db = Database(database_url)
    first_api = children.start("api-1", "api", "--port", str(port), env=env)
    worker = children.start("processor", "process", env=env)
    wait_until(lambda: _answers(url), timeout=60, what="the API answers", context=children.tail)
    clients = [PostingClient(n, url) for n in range(CLIENTS)]
    for client in clients:
        client.start()

    total = CLIENTS * BATCHES * BATCH
    _wait_for_accepted(clients, total // 3, children)
    first_api.send_signal(signal.SIGTERM)  # a deploy
    # A graceful shutdown: requests in flight are answered, then the publisher and services close.
    stopped = first_api.wait(timeout=30)
    assert stopped == 0, f"SIGTERM is a clean stop ({stopped})\n{children.tail('api-1')}"
    assert '"message": "api stopped"' in children.log("api-1").read_text(), children.tail("api-1")
    assert sum(len(c.acked) for c in clients) < total, "the restart must fall mid-stream"
    second_api = children.start("api-2", "api", "--port", str(port), env=env)
    _wait_for_accepted(clients, 2 * total // 3, children)
    second_api.kill()  # a crash: requests in flight get no answer, though their events may be in the log
    second_api.wait()
    assert sum(len(c.acked) for c in clients) < total, "the crash must fall mid-stream"
    children.start("api-3", "api", "--port", str(port), env=env)
    for client in clients:
        client.join(timeout=120)

    assert [c.error for c in clients] == [None] * CLIENTS, children.tail()
    assert sum(c.refused for c in clients) > 0, "the clients met the API down (else this test proves nothing)"
    posted = [e for c in clients for e in c.acked]
    assert len(posted) == len(set(posted)) == total
    log = read_log(kafka_bootstrap, topic)
    assert sorted(log.events) == sorted(posted), "every event answered 202 is in the log, and only those"
    assert log.repeats >= sum(c.resent for c in clients), "a batch sent twice is in the log twice"
    wait_until(lambda: caught_up(db, topic, log), timeout=60, what="the worker stores the log", context=children.tail)
    assert worker.poll() is None, children.tail("processor")
    audit(db, topic, log, context=children.tail)
    # The collector dead-letters invalid events itself: once, however many attempts reached it.
    dead = Counter(r[0] for r in db.rows("SELECT event_id FROM failed_events WHERE source_topic IS NULL"))
    invalid = {k: v for c in clients for k, v in c.invalid.items()}
    assert dead.keys() == invalid.keys() and set(dead.values()) == {1}, (dead, invalid)
    assert min(invalid.values()) >= 2, "every invalid event reached the API at least twice"
