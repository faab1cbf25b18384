"""Every /v1 route refuses a missing or wrong key (401) and a too-low role (403)."""

from __future__ import annotations

import pytest

from tests.api.conftest import build_client, headers

ROUTES = [
    ("POST", "/v1/events", "ingest"),
    ("GET", "/v1/events", "read"),
    ("GET", "/v1/events/6f1c1a8e-8a8e-4c4f-9a43-1d2b3c4d5e6f", "read"),
    ("GET", "/v1/users/alice", "read"),
    ("GET", "/v1/users/alice/events", "read"),
    ("GET", "/v1/stats/daily", "read"),
    ("GET", "/v1/stats/realtime", "read"),
    ("GET", "/v1/anomalies", "read"),
    ("GET", "/v1/failed-events", "admin"),
]
LOWER = {"ingest": "read", "admin": "ingest"}


@pytest.mark.parametrize(("method", "path", "role"), ROUTES)
def test_missing_and_wrong_keys_are_refused_with_401(client, method, path, role):
    for key_headers in ({}, {"X-API-Key": "not-a-key"}):
        response = client.request(method, path, headers=key_headers, content=b"{}")
        assert response.status_code == 401
        assert response.json()["status_code"] == 401 and "X-API-Key" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path", "role"), [r for r in ROUTES if r[2] in LOWER])
def test_a_key_with_too_low_a_role_is_refused_with_403(client, method, path, role):
    response = client.request(method, path, headers=headers(LOWER[role]), content=b"{}")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("this route needs the")


def test_admin_key_may_read_too(client):
    assert client.get("/v1/events", headers=headers("admin")).status_code == 200


def test_keys_do_not_leak_into_error_bodies(client):
    response = client.get("/v1/failed-events", headers=headers("read"))
    assert "reader-key" not in response.text


def test_unknown_routes_are_json_404s(client):
    response = client.get("/v1/nothing-here", headers=headers("read"))
    assert response.status_code == 404 and response.json()["status_code"] == 404


def test_invalid_parameters_are_422_with_a_detail(client):
    response = client.get("/v1/events", params={"limit": 5000}, headers=headers("read"))
    assert response.status_code == 422
    assert response.json()["detail"]


def test_too_many_requests_get_429_with_retry_after(platform):
    with build_client(platform, rate_limit_per_second=2) as limited:
        # Timing-proof: however slow this machine is, some of 100 quick requests share a second.
        codes, limited_response = [], None
        for _ in range(100):
            response = limited.get("/v1/events", headers=headers("read"))
            codes.append(response.status_code)
            if response.status_code == 429:
                limited_response = response
                break
        other_key = limited.get("/v1/events", headers=headers("admin"))
    assert codes[0] == 200 and limited_response is not None
    assert int(limited_response.headers["Retry-After"]) >= 1
    assert limited_response.json()["status_code"] == 429
    assert other_key.status_code == 200, "limits are per key"


def test_health_ready_metrics_and_docs_need_no_key(client, platform):
    assert client.get("/health").json() == {"status": "ok", "checks": {}}
    assert client.get("/ready").status_code == 200
    platform.broker_up = False
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503 and not_ready.json()["checks"]["broker"].startswith("unavailable")
    client.get("/v1/events", headers=headers("read"))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "analytics_api_requests_total" in metrics.text
    assert client.get("/schema/openapi.json").json()["info"]["title"] == "User analytics API"
    assert client.get("/schema/swagger").status_code == 200


def test_an_unexpected_error_is_a_json_500_logged_by_type_without_its_message(platform, caplog, monkeypatch):
    from adapters.in_memory.queries import InMemoryAnalyticsQueries

    def broken(self, *args, **kwargs):
        raise RuntimeError("connection to postgresql://app:hunter2@db failed")

    monkeypatch.setattr(InMemoryAnalyticsQueries, "daily_stats", broken)
    with build_client(platform) as client, caplog.at_level("ERROR"):
        response = client.get("/v1/stats/daily", headers=headers("read"))

    assert response.status_code == 500
    assert response.json() == {"status_code": 500, "detail": "internal server error"}
    (record,) = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert record.error_type == "builtins.RuntimeError" and record.path == "/v1/stats/daily"
    assert "daily_stats" in record.stack  # where it happened, for whoever debugs it
    assert "hunter2" not in caplog.text and "hunter2" not in response.text
