"""Stats responses cached in Redis when ANALYTICS_REDIS_URL is set (here: the test's own
address in ANALYTICS_TEST_REDIS_URL; skipped without one, the product never needs Redis)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from litestar.stores.redis import RedisStore

from entrypoints.api.wiring import _cache_store
from tests.api.conftest import Platform, build_client, headers
from tests.factories import make_event

REDIS_URL = os.environ.get("ANALYTICS_TEST_REDIS_URL")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not REDIS_URL, reason="set ANALYTICS_TEST_REDIS_URL to test the Redis response cache"),
]


def test_stats_are_served_from_redis_while_fresh():
    store = _cache_store(REDIS_URL)
    assert isinstance(store, RedisStore)
    platform = Platform()
    event = make_event(user_id="cached")
    platform.store(event)
    # A country nobody else uses keeps this test's cache entry its own.
    params = {"from": event.timestamp.date().isoformat(), "event_type": "page_view", "country": "US"}
    params["nonce"] = uuid.uuid4().hex  # unknown parameters are ignored, but part of the cache key
    with build_client(platform, cache_store=store) as client:
        first = client.get("/v1/stats/daily", params=params, headers=headers("read")).json()
        platform.store(make_event(user_id="later"), offset=50)
        again = client.get("/v1/stats/daily", params=params, headers=headers("read")).json()
    assert first == again and first[0]["events"] == 1
    assert redis.Redis.from_url(REDIS_URL).keys("analytics*"), "the entry lives in Redis"
