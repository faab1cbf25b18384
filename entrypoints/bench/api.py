"""The API part of `analytics bench`: latency of the hot read routes on a filled database
and collector throughput, measured from this process against `analytics api` in another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import asdict, dataclass

import httpx
import orjson
from sqlalchemy import text

from adapters.child_processes import stop_with_parent
from adapters.kafka.topics import delete_topics, ensure_topics
from adapters.loopback import free_port
from adapters.postgres.engine import create_postgres_engine
from application.traffic import generate_events
from entrypoints.cli.common import analytics_argv

BENCH_KEY = "bench-admin-key"


@dataclass
class Latency:
    requests: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass
class ApiBench:
    get_user: Latency
    get_user_events: Latency
    post_events: Latency
    post_events_per_s: float
    concurrency: int

    def as_dict(self) -> dict:
        return asdict(self)


def run_api_bench(kafka_config: dict, database_url: str, *, requests: int, concurrency: int) -> ApiBench:
    engine = create_postgres_engine(database_url, pool_size=1)
    with engine.connect() as conn:
        users = [r[0] for r in conn.execute(text("SELECT user_id FROM users ORDER BY random() LIMIT 1000"))]
    engine.dispose()
    topic = f"bench-api-events-{os.getpid()}"
    ensure_topics(kafka_config, {topic: 3})
    port = free_port()
    env = {
        **os.environ,
        "ANALYTICS_KAFKA_BOOTSTRAP": kafka_config["bootstrap.servers"],
        "ANALYTICS_DATABASE_URL": database_url,
        "ANALYTICS_KAFKA_EVENTS_TOPIC": topic,
        "ANALYTICS_API_KEYS": f"{BENCH_KEY}:admin",
        "ANALYTICS_API_RATE_LIMIT_PER_SECOND": "1000000",
    }
    server = subprocess.Popen(
        analytics_argv("api", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=stop_with_parent(),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base)
        return asyncio.run(_measure(base, users, requests, concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)
        delete_topics(kafka_config, [topic])


async def _measure(base: str, users: list[str], requests: int, concurrency: int) -> ApiBench:
    headers = {"X-API-Key": BENCH_KEY}
    batches = [_batch(seed) for seed in range(max(1, requests // 10))]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        await _load(client, lambda i: client.get(f"/v1/users/{users[i % len(users)]}"), 200, concurrency)  # warm-up
        get_user = await _load(
            client, lambda i: client.get(f"/v1/users/{users[i % len(users)]}"), requests, concurrency
        )
        get_events = await _load(
            client,
            lambda i: client.get("/v1/events", params={"user_id": users[i % len(users)], "limit": 50}),
            requests,
            concurrency,
        )
        post = await _load(
            client,
            lambda i: client.post("/v1/events", content=batches[i % len(batches)], headers=_JSON),
            len(batches),
            concurrency,
        )
    return ApiBench(get_user, get_events, post, round(post.requests_per_s * 100, 1), concurrency)


_JSON = {"content-type": "application/json"}


def _batch(seed: int) -> bytes:
    """100 fresh, valid events (so the collector does its full work)."""
    from datetime import UTC, datetime

    events = generate_events(100, seed=10_000 + seed, start=datetime.now(UTC))
    return orjson.dumps([e.model_dump(mode="json", exclude_none=True) for e in events])


async def _load(client: httpx.AsyncClient, send, count: int, concurrency: int) -> Latency:
    samples: list[float] = []
    next_index = iter(range(count))

    async def worker() -> None:
        for i in next_index:
            started = time.perf_counter()
            response = await send(i)
            samples.append(time.perf_counter() - started)
            if response.status_code >= 300 and response.status_code != 404:
                raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:200]}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    samples.sort()
    pick = lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))] * 1000, 2)  # noqa: E731
    return Latency(len(samples), round(len(samples) / elapsed, 1), pick(0.5), pick(0.95), pick(0.99), pick(1.0))


def _wait_until_up(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the API did not come up at {base}")
