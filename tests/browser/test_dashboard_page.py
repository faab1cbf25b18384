"""The dashboard page in headless Chromium, on a running platform (real broker and Postgres):
it draws its charts from live data, redraws them when more events arrive, and logs no error.

A screenshot lands in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Producer

from adapters.kafka.topics import ensure_topics
from adapters.loopback import free_port
from application.traffic import generate_events, partition_key, to_wire
from domain.events import UserEvent
from tests.integration.platform import Database, platform_env, start_analytics

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(180)]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
READ_KEY = "dashboard-reader"
SEC = timedelta(seconds=1)

# What the page exposes once drawn: the snapshot it plotted and what its charts hold.
_DRAWN = """() => {
  const d = window.dashboard, s = d.snapshot;
  return {
    updates: d.updates,
    watermark: s.watermark,
    lag: s.lag,
    throughput: d.charts.throughput.data[1].reduce((a, b) => a + b, 0),
    types: d.charts.types.data[1].reduce((a, b) => a + b, 0),
    countries: d.charts.countries.data[1].length,
    partitions: d.charts.lag.data[0].length,
  };
}"""

# The refresh shows the new events: a later watermark and more events in the throughput chart.
_MOVED = """(before) => {
  const d = window.dashboard;
  const throughput = d.charts.throughput.data[1].reduce((a, b) => a + b, 0);
  return Date.parse(d.snapshot.watermark) > Date.parse(before.watermark) && throughput > before.throughput;
}"""


def _produce(bootstrap: str, topic: str, events: list[UserEvent]) -> None:
    """As clients would have sent them: the record timestamp (the platform's receive time)
    is the event's send time, so events spread over past minutes arrive on time."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for event in events:
        sent = event.sent_at or event.timestamp
        producer.produce(topic, key=partition_key(event), value=to_wire(event), timestamp=int(sent.timestamp() * 1000))
        producer.poll(0)
    assert producer.flush(30) == 0


def _spread(count: int, *, seed: int, start: datetime, end: datetime) -> list[UserEvent]:
    return list(generate_events(count, seed=seed, start=start, rate=count / (end - start).total_seconds()))


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API exited"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def running_platform(kafka_bootstrap, database_url, tmp_path) -> Iterator[tuple[str, dict, Database]]:
    """A dataflow and an API (`analytics process` and `analytics api`), with a few thousand events
    of the last nine minutes stored; yields the API's base URL, the environment and the database."""
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium (/usr/bin/chromium) to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright package comes with the dev extras")
    port = free_port()
    env = platform_env(kafka_bootstrap, database_url, tmp_path, ANALYTICS_API_KEYS=f"{READ_KEY}:read")
    ensure_topics({"bootstrap.servers": kafka_bootstrap}, {env["ANALYTICS_KAFKA_EVENTS_TOPIC"]: 3})
    now = datetime.now(UTC)
    _produce(
        kafka_bootstrap,
        env["ANALYTICS_KAFKA_EVENTS_TOPIC"],
        _spread(3000, seed=21, start=now - 9 * 60 * SEC, end=now - 40 * SEC),
    )
    worker = start_analytics("process", env=env, log=tmp_path / "worker.log")
    api = start_analytics("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        db = Database(database_url)
        assert db.wait_for("SELECT count(*) FROM events", 3000, timeout=90) == 3000, (
            tmp_path / "worker.log"
        ).read_text()
        _wait_until_up(f"http://127.0.0.1:{port}/health", api)
        yield f"http://127.0.0.1:{port}", env, db
    finally:
        _stop(api)
        _stop(worker)


def test_the_dashboard_draws_live_data_and_redraws_as_events_arrive(running_platform, kafka_bootstrap):
    from playwright.sync_api import sync_playwright

    base, env, db = running_platform
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(f"{base}/dashboard#key={READ_KEY}")

            page.wait_for_selector("body[data-ready=true]", timeout=15_000)
            assert "#key=" not in page.url, "the key is taken out of the address bar"
            assert page.locator(".uplot canvas").count() == 6
            first = page.evaluate(_DRAWN)
            assert first["throughput"] > 0 and first["types"] > 0 and first["countries"] > 0, first
            assert first["partitions"] == 3 and first["lag"] is not None, first  # the broker answered

            now = datetime.now(UTC)
            _produce(
                kafka_bootstrap,
                env["ANALYTICS_KAFKA_EVENTS_TOPIC"],
                _spread(1500, seed=22, start=now - 30 * SEC, end=now),
            )
            assert db.wait_for("SELECT count(*) FROM events", 4500, timeout=60) == 4500
            page.wait_for_function(_MOVED, arg=first, timeout=15_000)
            after = page.evaluate(_DRAWN)
            assert after["updates"] > first["updates"], after
            assert page.locator("#status.ok").count() == 1, page.locator("#status").inner_text()

            artifacts = REPO / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

            # Failures are explained on the page (the browser logs the 401 itself: not collected here).
            refused = browser.new_page()
            refused.goto(f"{base}/dashboard#key=not-a-key")
            refused.wait_for_selector("#status.error")
            assert "401" in refused.locator("#status").inner_text() and refused.locator("#key-form").is_visible()
            unreachable = browser.new_page()
            unreachable.route("**/v1/dashboard", lambda route: route.abort())
            unreachable.goto(f"{base}/dashboard#key={READ_KEY}")
            unreachable.wait_for_selector("#status.error")
            assert "unreachable" in unreachable.locator("#status").inner_text()
        finally:
            browser.close()
    assert problems == []
