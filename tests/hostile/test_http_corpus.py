"""The hostile corpus through `POST /v1/events` on in-memory adapters: one case per request,
then all of them as lists. Nothing answers 500; refused bodies get a clean JSON 4xx;
rejected items are reported by index and dead-lettered; accepted ones are published
exactly as sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from domain.errors import NotFound
from tests.api.conftest import Platform, build_client, headers
from tests.hostile.corpus import CORPUS, MAX_BYTES, Accepted, Case, Refused, Rejected, assert_clean_error

pytestmark = pytest.mark.hostile

INGEST = headers("ingest")


@pytest.fixture(scope="module")
def platform() -> Platform:
    return Platform()


@pytest.fixture(scope="module")
def client(platform):
    # One app for the module (building one costs ~75 ms); each test looks at what it added.
    with build_client(platform, rate_limit_per_second=1_000_000) as test_client:
        yield test_client


def _published(platform: Platform) -> Counter[bytes]:
    try:
        partitions = platform.log.partitions("user-events")
    except NotFound:  # nothing was ever published
        return Counter()
    return Counter(r.value for p in partitions for r in platform.log.read("user-events", p, 0, 1_000_000))


@pytest.mark.parametrize("case", [c for c in CORPUS if not c.is_json_list], ids=lambda c: c.name)
def test_each_case_posted_alone_gets_its_answer(case: Case, client, platform):
    published, dead_letters = _published(platform), len(platform.state.dead_letters)

    response = client.post("/v1/events", content=case.raw, headers=INGEST)

    new_letters = platform.state.dead_letters[dead_letters:]
    new_records = _published(platform) - published
    match case.answer:
        case Refused(status):
            assert_clean_error(response, status)
            assert not new_records and not new_letters
        case Accepted():
            assert (response.status_code, response.json()) == (202, {"accepted": 1, "rejected": []})
            assert new_records == Counter([case.raw]) and not new_letters  # the very bytes that were sent
        case Rejected(error_type):
            assert response.status_code == 202, response.text[:300]
            [rejection] = response.json()["rejected"]
            assert response.json()["accepted"] == 0 and rejection["index"] == 0
            assert rejection["error"].startswith(f"{error_type}: "), rejection
            [letter] = new_letters
            assert (letter.error_type, letter.raw_data, letter.raw_encoding) == (error_type, case.raw.decode(), "utf-8")
            assert letter.error_reason and letter.processor_version == "api/test"
            assert not new_records


def test_a_json_array_body_is_a_batch_of_its_elements(client):
    response = client.post("/v1/events", content=b"[1, 2, 3]", headers=INGEST)

    body = response.json()
    assert response.status_code == 202 and body["accepted"] == 0
    assert [(r["index"], r["error"].split(":")[0]) for r in body["rejected"]] == [(i, "deserialize") for i in range(3)]


def test_an_empty_list_accepts_nothing_and_rejects_nothing(client):
    response = client.post("/v1/events", content=b"[]", headers=INGEST)
    assert (response.status_code, response.json()) == (202, {"accepted": 0, "rejected": []})


def _listable() -> list[Case]:
    """Cases that can share a body: answered item by item, and small enough to batch."""
    return [c for c in CORPUS if not isinstance(c.answer, Refused) and len(c.raw) < MAX_BYTES // 4]


def _batches(cases: list[Case], budget: int = MAX_BYTES - 1024) -> Iterator[list[Case]]:
    batch: list[Case] = []
    for case in cases:
        if batch and sum(len(c.raw) + 1 for c in batch) + len(case.raw) > budget:
            yield batch
            batch = []
        batch.append(case)
    yield batch


def test_the_corpus_posted_as_lists_is_answered_item_by_item(client, platform):
    cases = _listable()
    assert len(cases) > 150  # the lists carry nearly the whole corpus
    for batch in _batches(cases):
        published, dead_letters = _published(platform), len(platform.state.dead_letters)
        body = b"[" + b",".join(c.raw for c in batch) + b"]"

        response = client.post("/v1/events", content=body, headers=INGEST)

        assert response.status_code == 202, response.text[:300]
        rejected = {r["index"]: r["error"] for r in response.json()["rejected"]}
        expected = {i: c.answer.error_type for i, c in enumerate(batch) if isinstance(c.answer, Rejected)}
        assert {i: error.split(":")[0] for i, error in rejected.items()} == expected
        accepted = [c for c in batch if isinstance(c.answer, Accepted)]
        assert response.json()["accepted"] == len(accepted)
        # Each element keeps its own bytes (numbers, escapes, repeated keys): what the log path sees.
        assert _published(platform) - published == Counter(c.raw.strip(b" \t\r\n") for c in accepted)
        letters = platform.state.dead_letters[dead_letters:]
        assert [(f.error_type, f.raw_data) for f in letters] == [
            (batch[i].answer.error_type, batch[i].raw.strip(b" \t\r\n").decode()) for i in sorted(expected)
        ]


def test_a_list_of_1000_hostile_items_is_answered_and_1001_is_refused(client):
    items = [c.raw for c in _listable() if len(c.raw) < 1000]
    thousand = (items * (1000 // len(items) + 1))[:1000]

    response = client.post("/v1/events", content=b"[" + b",".join(thousand) + b"]", headers=INGEST)

    assert response.status_code == 202
    assert response.json()["accepted"] + len(response.json()["rejected"]) == 1000
    too_many = client.post("/v1/events", content=b"[" + b",".join([*thousand, b"{}"]) + b"]", headers=INGEST)
    assert_clean_error(too_many, 422)


@pytest.mark.parametrize(
    "body",
    [b'"\\ud800"', b'["\\udfff", 1]', b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"\xef\xbb\xbf[]"],
    ids=["lone_surrogate_string", "lone_surrogate_in_a_list", "unclosed_deep_list", "deep_object", "bom_list"],
)
def test_bodies_that_broke_the_collector_get_a_json_answer(client, body):
    # These raised inside the handler (UnicodeEncodeError, RecursionError) and answered 500.
    response = client.post("/v1/events", content=body, headers=INGEST)
    assert response.status_code in (202, 422), response.text[:300]
    if response.status_code == 422:
        assert_clean_error(response, 422)
