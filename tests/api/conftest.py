"""The API on in-memory fakes: a Litestar TestClient per test, keys for each role."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient

from adapters.in_memory.event_log import InMemoryEventLog
from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.in_memory.queries import InMemoryAnalyticsQueries
from application.ingest import Recorder
from application.views import AnomalyView
from entrypoints.api.app import create_app
from entrypoints.api.auth import ApiKeys
from entrypoints.api.deps import Collector
from entrypoints.settings import ApiSettings
from tests.factories import batch, make_event, received

KEYS = {"read": "reader-key", "ingest": "ingester-key", "admin": "admin-key"}


def headers(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@dataclass
class Platform:
    state: InMemoryState = field(default_factory=InMemoryState)
    log: InMemoryEventLog = field(default_factory=InMemoryEventLog)
    anomalies: list[AnomalyView] = field(default_factory=list)
    churn: dict[str, float] = field(default_factory=dict)
    watermark: datetime | None = None
    broker_up: bool = True

    def store(self, *events, offset: int = 0) -> None:
        """Events through the real write path (projections included)."""
        stored = [received(e, offset=offset + i) for i, e in enumerate(events)]
        Recorder(lambda: InMemoryUnitOfWork(self.state), "test")(batch(stored), now=datetime.now(UTC))


def _ping(platform: Platform):
    def ping() -> None:
        from domain.errors import BrokerUnavailable

        if not platform.broker_up:
            raise BrokerUnavailable("broker down")

    return ping


def build_client(platform: Platform, cache_store=None, **api: object) -> TestClient:
    queries = InMemoryAnalyticsQueries(
        platform.state, anomalies=platform.anomalies, churn=platform.churn, received_until=lambda: platform.watermark
    )
    collector = Collector(
        publisher=platform.log,
        topic="user-events",
        start_unit_of_work=lambda: InMemoryUnitOfWork(platform.state),
        version="api/test",
        ping_broker=_ping(platform),
    )
    app = create_app(
        api_keys=ApiKeys.parse(",".join(f"{key}:{role}" for role, key in KEYS.items())),
        queries=queries,
        collector=collector,
        settings=ApiSettings(**api),
        allowed_lateness_s=300,
        cache_store=cache_store,
    )
    return TestClient(app)


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def client(platform):
    with build_client(platform) as test_client:
        yield test_client


@pytest.fixture
def some_events(platform):
    events = [make_event("page_view", user_id="alice"), make_event("purchase", user_id="alice", value="9.50")]
    events.append(make_event("click", user_id="bob", country="DE"))
    platform.store(*events)
    return events
