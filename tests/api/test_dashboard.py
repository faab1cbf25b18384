"""The live dashboard: its page and assets (no key), and its snapshot at /v1/dashboard."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from uuid import UUID

import pytest
from litestar.testing import TestClient

from adapters.in_memory.event_store import InMemoryUnitOfWork
from adapters.in_memory.queries import InMemoryAnalyticsQueries
from application.dashboard import filled_throughput, partition_progress
from application.views import AnomalyView, ConsumerProgressView, RateBucketView
from domain.errors import BrokerUnavailable
from entrypoints.api.app import create_app
from entrypoints.api.auth import ApiKeys
from entrypoints.api.deps import Collector
from entrypoints.settings import ApiSettings
from tests.api.conftest import KEYS, Platform, headers
from tests.factories import T0, make_event

MIN, SEC = timedelta(minutes=1), timedelta(seconds=1)
TOPIC = "user-events"


class _Assets(HTMLParser):
    """The URLs of the page's scripts and stylesheets."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.scripts.append(found["src"])
        if tag == "link" and found.get("rel") == "stylesheet":
            self.styles.append(found["href"])


def position(partition: int, next_offset: int, received_until, committed_after: timedelta, **fields):
    return ConsumerProgressView(
        consumer=fields.get("consumer", "analytics-processor@test"),
        topic=fields.get("topic", TOPIC),
        partition=partition,
        next_offset=next_offset,
        received_until=received_until,
        updated_at=received_until + committed_after,
    )


def dashboard_client(platform: Platform, progress: list[ConsumerProgressView], log_end_offsets=None) -> TestClient:
    """The API over the fakes; the watermark comes from the committed positions, as in Postgres."""
    queries = InMemoryAnalyticsQueries(platform.state, anomalies=platform.anomalies, progress=progress)
    collector = Collector(
        publisher=platform.log,
        topic=TOPIC,
        start_unit_of_work=lambda: InMemoryUnitOfWork(platform.state),
        version="api/test",
        ping_broker=lambda: None,
    )
    app = create_app(
        api_keys=ApiKeys.parse(",".join(f"{key}:{role}" for role, key in KEYS.items())),
        queries=queries,
        collector=collector,
        settings=ApiSettings(),
        allowed_lateness_s=300,
        log_end_offsets=log_end_offsets,
    )
    return TestClient(app)


@pytest.fixture
def page_client(platform):
    with dashboard_client(platform, []) as client:
        yield client


def _page_assets(client: TestClient) -> _Assets:
    assets = _Assets()
    assets.feed(client.get("/dashboard").text)
    return assets


def test_the_page_is_served_without_a_key_with_its_chart_library_from_local_paths(page_client):
    page = page_client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = _page_assets(page_client)
    linked = assets.scripts + assets.styles
    assert any(url.endswith("/uPlot.iife.min.js") for url in assets.scripts)
    assert any(url.endswith("/uPlot.min.css") for url in assets.styles)
    assert all(url.startswith("/dashboard/static/") for url in linked), linked
    assert "http://" not in page.text and "https://" not in page.text


def test_every_asset_of_the_page_is_served_with_its_content_type(page_client):
    assets = _page_assets(page_client)
    for url in assets.scripts:
        response = page_client.get(url)
        assert response.status_code == 200, url
        assert "javascript" in response.headers["content-type"], (url, response.headers["content-type"])
    for url in assets.styles:
        response = page_client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/css"), url
    library = page_client.get("/dashboard/static/vendor/uplot/uPlot.iife.min.js").text
    assert library.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    assert "MIT License" in page_client.get("/dashboard/static/vendor/uplot/LICENSE").text
    assert page_client.get("/dashboard/static/nothing-here.js").status_code == 404


def test_the_snapshot_route_is_documented_and_the_page_is_not(page_client):
    paths = page_client.get("/schema/openapi.json").json()["paths"]
    assert paths["/v1/dashboard"]["get"]["operationId"] == "getDashboard"
    assert not [p for p in paths if p.startswith("/dashboard")]


def test_the_snapshot_needs_a_key_with_the_read_role(page_client):
    missing = page_client.get("/v1/dashboard")
    assert missing.status_code == 401 and missing.json()["status_code"] == 401
    assert page_client.get("/v1/dashboard", headers={"X-API-Key": "wrong"}).status_code == 401
    answered = page_client.get("/v1/dashboard", headers=headers("read"))
    assert answered.status_code == 200 and answered.headers["cache-control"] == "no-store"


def test_an_empty_platform_has_an_empty_snapshot(page_client):
    snap = page_client.get("/v1/dashboard", headers=headers("read")).json()
    assert (snap["watermark"], snap["throughput"], snap["partitions"], snap["anomalies"]) == (None, [], [], [])
    assert (snap["latency_s"], snap["lag"], snap["closed_minutes"], Decimal(snap["revenue"])) == (None, None, 0, 0)


def test_the_snapshot_shows_throughput_latency_lag_breakdowns_revenue_and_anomalies(platform):
    def at(moment, event_type="page_view", **fields):
        return make_event(event_type, timestamp=moment.isoformat(), **fields)

    platform.store(
        at(T0 + 5 * SEC), at(T0 + 20 * SEC, "purchase", value="9.50"), at(T0 + 40 * SEC, country="DE"),
        at(T0 + MIN + 5 * SEC, "click"), at(T0 + MIN + 30 * SEC, "purchase", value="0.50"),
        at(T0 + 6 * MIN + 1 * SEC), at(T0 + 6 * MIN + 2 * SEC, country="FR"),
    )  # fmt: skip
    flagged = [
        AnomalyView(
            event_id=UUID(int=n),
            user_id=f"u{n}",
            score=s,
            reasons=["burst"],
            detected_at=T0 + n * MIN,
            model_version=None,
        )
        for n, s in [(1, 0.8), (2, 0.97)]
    ]
    platform.anomalies.extend(flagged)
    watermark = T0 + 7 * MIN  # closes the minutes T0 and T0 + 1 min (allowed lateness 5 min)
    progress = [
        position(0, 8, watermark, timedelta(seconds=1.5)),
        position(1, 3, T0 + 6 * MIN, timedelta(seconds=0.5)),
        position(1, 1, T0, timedelta(seconds=9), consumer="analytics-processor@old-cluster"),
        position(0, 99, T0, SEC, topic="another-topic"),
    ]
    with dashboard_client(platform, progress, lambda: {0: 10, 1: 3, 2: 4}) as client:
        snap = client.get("/v1/dashboard", headers=headers("read")).json()

    assert snap["watermark"] == watermark.isoformat().replace("+00:00", "Z")
    assert snap["latency_s"] == 1.5  # of the most recent commit
    assert [(p["partition"], p["next_offset"], p["log_end_offset"], p["lag"]) for p in snap["partitions"]] == [
        (0, 8, 10, 2), (1, 3, 3, 0), (2, None, 4, 4),
    ]  # fmt: skip
    assert [p["latency_s"] for p in snap["partitions"]] == [1.5, 0.5, None]
    assert (snap["lag"], snap["lag_error"]) == (6, None)
    assert snap["closed_minutes"] == 2
    assert snap["by_event_type"] == {"page_view": 2, "purchase": 2, "click": 1}
    assert snap["by_country"] == {"US": 4, "DE": 1}
    assert (snap["purchases"], Decimal(snap["revenue"])) == (2, Decimal("10.00"))
    assert [(m["window_start"][11:16], Decimal(m["revenue"])) for m in snap["revenue_by_minute"]] == [
        ("10:00", Decimal("9.50")), ("10:01", Decimal("0.50")),
    ]  # fmt: skip
    throughput = snap["throughput"]
    assert len(throughput) == 31  # 10-second buckets from T0 + 2 min to T0 + 7 min, both included
    assert [b["events"] for b in throughput if b["events"]] == [2]
    assert [b["events_per_second"] for b in throughput if b["events"]] == [0.2]
    assert [a["user_id"] for a in snap["anomalies"]] == ["u2", "u1"]


def test_the_lag_is_unknown_not_an_error_when_the_broker_does_not_answer(platform):
    def broker_down() -> dict[int, int]:
        raise BrokerUnavailable("no answer within 2 s")

    progress = [position(0, 5, T0, SEC)]
    with dashboard_client(platform, progress, broker_down) as client:
        answered = client.get("/v1/dashboard", headers=headers("read"))
    assert answered.status_code == 200
    snap = answered.json()
    assert snap["lag"] is None and "no answer within 2 s" in snap["lag_error"]
    assert [(p["partition"], p["next_offset"], p["lag"], p["latency_s"]) for p in snap["partitions"]] == [
        (0, 5, None, 1.0)
    ]


def test_without_a_way_to_ask_the_broker_the_lag_is_unknown(platform):
    with dashboard_client(platform, [position(0, 5, T0, SEC)]) as client:
        snap = client.get("/v1/dashboard", headers=headers("read")).json()
    assert snap["lag"] is None and snap["lag_error"]


def test_throughput_gaps_are_filled_with_zeros_up_to_the_watermark():
    stored = [RateBucketView(bucket_start=T0 + 20 * SEC, events=3, events_per_second=0.3)]
    filled = filled_throughput(stored, T0 + MIN + 5 * SEC, 1)
    assert [b.bucket_start for b in filled] == [T0 + n * 10 * SEC for n in range(7)]
    assert [b.events for b in filled] == [0, 0, 3, 0, 0, 0, 0]
    assert filled_throughput([], None, 5) == []


def test_a_partition_committed_by_several_consumers_shows_the_latest_commit():
    older = position(0, 50, T0, SEC, consumer="a")
    newer = position(0, 40, T0 + MIN, 2 * SEC, consumer="b")
    [row] = partition_progress([newer, older], {0: 45})
    assert (row.next_offset, row.lag, row.latency_s, row.committed_at) == (40, 5, 2.0, T0 + MIN + 2 * SEC)
    [unknown] = partition_progress([older], None)
    assert (unknown.log_end_offset, unknown.lag) == (None, None)
