"""A handful of hostile bodies against a real `analytics api` process (HTTP server, real broker
and Postgres): the ones where the server itself matters, like size limits on a streamed body."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from adapters.loopback import free_port
from tests.hostile.corpus import BY_NAME, SQL, assert_clean_error, event, wire
from tests.integration.platform import platform_env, start_analytics

pytestmark = [pytest.mark.integration, pytest.mark.hostile]

ADMIN = {"X-API-Key": "hostile-admin", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def api(kafka_bootstrap, postgres_server, tmp_path_factory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("hostile-api")
    url = postgres_server.create_database(f"analytics_hostile_api_{os.getpid()}")  # `analytics api` migrates it
    env = platform_env(kafka_bootstrap, url, tmp, ANALYTICS_API_KEYS="hostile-admin:admin")
    port = free_port()
    server = start_analytics("api", "--port", str(port), env=env, log=tmp / "api.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=ADMIN, timeout=30) as client:
            _wait_until_up(client, server, tmp / "api.log")
            yield client
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_a_body_over_one_megabyte_is_a_413_whether_its_length_is_declared_or_streamed(api):
    raw = BY_NAME["payload_over_one_megabyte"].raw

    assert_clean_error(api.post("/v1/events", content=raw), 413)
    chunks = (raw[i : i + 65_536] for i in range(0, len(raw), 65_536))  # chunked: no Content-Length
    assert_clean_error(api.post("/v1/events", content=chunks), 413)


@pytest.mark.parametrize(
    "name", ["invalid_utf8_in_a_string", "utf8_byte_order_mark", "utf16_encoded_json", "nesting_10000_deep", "not_json"]
)
def test_a_body_that_is_not_utf8_json_is_a_422(api, name):
    assert_clean_error(api.post("/v1/events", content=BY_NAME[name].raw), 422)


def test_a_list_is_answered_by_index_and_its_bad_items_are_dead_lettered(api):
    valid = wire(event("real-api-sql", user_id=SQL, data={"page": SQL}))
    lone_surrogate = BY_NAME["lone_high_surrogate_in_a_string"].raw
    wrong_country = BY_NAME["country_as_lower_case"].raw

    response = api.post("/v1/events", content=b"[" + b",".join([valid, lone_surrogate, wrong_country]) + b"]")

    assert response.status_code == 202, response.text[:300]
    assert response.json()["accepted"] == 1
    assert [(r["index"], r["error"].split(":")[0]) for r in response.json()["rejected"]] == [
        (1, "deserialize"),
        (2, "schema"),
    ]
    letters = api.get("/v1/failed-events", params={"limit": 10}).json()["items"]
    assert {(f["error_type"], f["raw_data"]) for f in letters} >= {
        ("deserialize", lone_surrogate.decode()),
        ("schema", wrong_country.decode()),
    }


def test_a_valid_event_at_the_size_limit_is_accepted(api):
    response = api.post("/v1/events", content=BY_NAME["payload_at_the_size_limit"].raw)
    assert response.status_code == 202, response.text[:300]


def _wait_until_up(client: httpx.Client, server, log) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.3)
