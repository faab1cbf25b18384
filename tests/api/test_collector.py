"""POST /v1/events: the collector."""

from __future__ import annotations

import json

from domain.errors import NotFound
from domain.failures import ErrorType
from tests.api.conftest import headers
from tests.factories import event_doc

INGEST = headers("ingest")


def _published(platform) -> list[dict]:
    reader = platform.log
    try:
        partitions = reader.partitions("user-events")
    except NotFound:  # nothing was ever published
        return []
    return [json.loads(record.value) for p in partitions for record in reader.read("user-events", p, 0, 10_000)]


def test_one_event_is_accepted_and_in_the_log_keyed_by_user(client, platform):
    doc = event_doc(user_id="alice")

    response = client.post("/v1/events", content=json.dumps(doc), headers=INGEST)

    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "rejected": []}
    [published] = _published(platform)
    assert published["event_id"] == doc["event_id"]


def test_a_list_reports_each_invalid_event_by_index_and_dead_letters_it(client, platform):
    docs = [event_doc(), event_doc(country="us"), {"event_type": "teleport"}, event_doc("purchase")]

    response = client.post("/v1/events", content=json.dumps(docs), headers=INGEST)

    body = response.json()
    assert response.status_code == 202 and body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2]
    assert body["rejected"][0]["error"].startswith("schema: country")
    assert len(_published(platform)) == 2
    assert [f.error_type for f in platform.state.dead_letters] == [ErrorType.SCHEMA, ErrorType.SCHEMA]
    assert platform.state.dead_letters[0].processor_version == "api/test"


def test_a_request_retried_with_its_idempotency_key_dead_letters_its_invalid_events_once(client, platform):
    body = json.dumps([event_doc(), {"event_type": "teleport"}, event_doc(country="us")])
    retry = {**INGEST, "Idempotency-Key": "9b2f6c1e-retry"}

    answers = [client.post("/v1/events", content=body, headers=retry) for _ in range(3)]
    fresh = client.post("/v1/events", content=body, headers={**INGEST, "Idempotency-Key": "another-request"})

    assert [a.status_code for a in answers] == [202] * 3 and fresh.status_code == 202
    assert all([r["index"] for r in a.json()["rejected"]] == [1, 2] for a in [*answers, fresh])
    letters = platform.state.dead_letters
    assert sorted((f.request_key.split(":", 1)[1], f.request_index) for f in letters) == [
        ("9b2f6c1e-retry", 1), ("9b2f6c1e-retry", 2), ("another-request", 1), ("another-request", 2)
    ]  # fmt: skip
    other_client = {"X-API-Key": headers("admin")["X-API-Key"], "Idempotency-Key": "9b2f6c1e-retry"}
    assert client.post("/v1/events", content=body, headers=other_client).status_code == 202
    assert len(platform.state.dead_letters) == 6  # another API key's key of the same text is another request


def test_without_an_idempotency_key_every_attempt_is_dead_lettered(client, platform):
    body = json.dumps([{"event_type": "teleport"}])
    for _ in range(2):
        assert client.post("/v1/events", content=body, headers=INGEST).status_code == 202
    assert [(f.request_key, f.request_index) for f in platform.state.dead_letters] == [(None, None)] * 2


def test_a_malformed_idempotency_key_is_a_422_that_points_at_the_header(client, platform):
    for bad in ("", "x" * 201, "has space"):
        bad_key = {**INGEST, "Idempotency-Key": bad}
        response = client.post("/v1/events", content=json.dumps(event_doc()), headers=bad_key)
        assert response.status_code == 422, (bad, response.text)
        [problem] = response.json()["extra"]
        assert (problem["source"], problem["key"]) == ("header", "idempotency_key")
    assert platform.state.dead_letters == [] and _published(platform) == []


def test_a_body_that_is_not_json_is_a_422(client, platform):
    response = client.post("/v1/events", content=b"{not json", headers=INGEST)
    assert response.status_code == 422 and "not JSON" in response.json()["detail"]


def test_more_than_1000_events_in_one_request_is_a_422(client):
    response = client.post("/v1/events", content=json.dumps([event_doc() for _ in range(1001)]), headers=INGEST)
    assert response.status_code == 422 and "at most 1000" in response.json()["detail"]


def test_a_body_over_one_megabyte_is_a_413(client, platform):
    doc = event_doc(data={"page": "/", "blob": "x" * 1_100_000})
    response = client.post("/v1/events", content=json.dumps(doc), headers=INGEST)
    assert response.status_code == 413
    assert _published(platform) == []


def test_elements_that_are_not_objects_are_rejected_not_fatal(client):
    response = client.post("/v1/events", content=json.dumps([1, "x", event_doc()]), headers=INGEST)
    assert response.json()["accepted"] == 1
    assert [r["index"] for r in response.json()["rejected"]] == [0, 1]
