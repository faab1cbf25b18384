"""The read routes over the in-memory store, filled through the real write path."""

from __future__ import annotations

from datetime import timedelta

from application.views import AnomalyView
from tests.api.conftest import headers
from tests.factories import T0, make_event

READ = headers("read")


def test_events_filter_and_page_newest_first(client, platform):
    events = [make_event(user_id="alice", timestamp=(T0 + timedelta(seconds=s)).isoformat()) for s in range(5)]
    platform.store(*events, make_event(user_id="bob"))
    seen, cursor = [], None
    while True:
        params = {"user_id": "alice", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/events", params=params, headers=READ).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(e.event_id) for e in reversed(events)]


def test_a_forged_cursor_is_a_422(client):
    response = client.get("/v1/events", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=READ)
    assert response.status_code == 422


def test_event_by_id_with_its_anomaly_score_or_404(client, platform, some_events):
    event = some_events[0]
    found = client.get(f"/v1/events/{event.event_id}", headers=READ)
    assert found.status_code == 200 and found.json()["anomaly_score"] is None
    missing = client.get("/v1/events/00000000-0000-4000-8000-00000000ffff", headers=READ)
    assert missing.status_code == 404 and missing.json()["detail"].startswith("no event")


def test_user_profile_with_churn_probability_once_scored(client, platform, some_events):
    profile = client.get("/v1/users/alice", headers=READ).json()
    assert (profile["total_events"], profile["total_purchases"], profile["churn_probability"]) == (2, 1, None)
    platform.churn["alice"] = 0.25
    assert client.get("/v1/users/alice", headers=READ).json()["churn_probability"] == 0.25
    assert client.get("/v1/users/nobody", headers=READ).status_code == 404


def test_a_users_events_newest_first(client, some_events):
    page = client.get("/v1/users/alice/events", headers=READ).json()
    assert {item["user_id"] for item in page["items"]} == {"alice"} and len(page["items"]) == 2


def test_daily_stats_with_filters(client, some_events):
    day = some_events[0].timestamp.date().isoformat()
    rows = client.get("/v1/stats/daily", params={"from": day, "to": day, "country": "DE"}, headers=READ).json()
    assert [(r["event_type"], r["events"], r["unique_users"]) for r in rows] == [("click", 1, 1)]


def test_realtime_shows_only_closed_windows(client, platform, some_events):
    # Each factory event is one second after the previous one made in this session: count from them.
    platform.watermark = max(e.timestamp for e in some_events) + timedelta(minutes=30)
    view = client.get("/v1/stats/realtime", params={"windows": 60}, headers=READ).json()
    assert view["windows"] and sum(w["events"] for w in view["windows"]) == 3
    by_country: dict[str, int] = {}  # the events may straddle a minute boundary
    for window in view["windows"]:
        for country, count in window["by_country"].items():
            by_country[country] = by_country.get(country, 0) + count
    assert by_country == {"US": 2, "DE": 1}


def test_anomalies_with_min_score(client, platform, some_events):
    for score in (0.4, 0.9):
        platform.anomalies.append(
            AnomalyView(
                event_id=some_events[0].event_id if score > 0.5 else some_events[1].event_id,
                user_id="alice",
                score=score,
                reasons=["purchase 38x this user's median"],
                detected_at=T0,
                model_version="m1",
            )
        )
    found = client.get("/v1/anomalies", params={"min_score": 0.5}, headers=READ).json()
    assert [a["score"] for a in found] == [0.9] and found[0]["reasons"]


def test_failed_events_for_admins(client):
    client.post("/v1/events", content=b'{"event_type": "x"}', headers=headers("ingest"))
    page = client.get("/v1/failed-events", params={"error_type": "schema"}, headers=headers("admin")).json()
    assert [f["error_type"] for f in page["items"]] == ["schema"]


def test_stats_are_cached_briefly_but_never_served_without_a_key(client, platform, some_events):
    day = some_events[0].timestamp.date().isoformat()
    first = client.get("/v1/stats/daily", params={"from": day}, headers=READ).json()
    platform.store(make_event(user_id="carol"), offset=100)
    again = client.get("/v1/stats/daily", params={"from": day}, headers=READ).json()
    assert again == first, "served from the cache"
    assert client.get("/v1/stats/daily", params={"from": day}).status_code == 401
