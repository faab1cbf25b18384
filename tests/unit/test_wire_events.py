"""The dataflow's log decoder decides exactly as `parse_event` does: same verdicts, same values.

`adapters.wire.events.decode_event` takes a faster path (msgspec) for plain payloads and hands
everything else to `parse_event` (pydantic). These tests hold the two against each other over the
validation cases, the hostile corpus, generated traffic and fuzzed payloads, and check that the
fast path is really taken for ordinary traffic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from adapters.wire.events import decode_event
from application.traffic import generate_events, to_wire
from application.traffic_anomalies import generate_labelled
from domain.errors import InvalidEvent
from domain.validation import parse_event
from entrypoints.feeding import backlog_start
from tests.factories import event_doc
from tests.hostile.corpus import CORPUS
from tests.unit.event_cases import encode
from tests.unit.test_event_validation import INVALID, VALID

FIELDS = ("event_id", "user_id", "session_id", "event_type", "timestamp", "device", "country", "value", "sent_at")


def verdict(decode, raw: bytes) -> tuple:
    try:
        event = decode(raw)
    except InvalidEvent as error:
        return ("rejected", error.error_type, error.reason, error.event_id)
    values = tuple(getattr(event, name) for name in FIELDS)
    offsets = (event.timestamp.utcoffset(), event.sent_at.utcoffset() if event.sent_at else None)
    kinds = (type(event.event_type), type(event.device))
    return ("stored", values, offsets, kinds, json.loads(event.data_json()))


def assert_same(raw: bytes) -> None:
    fast, reference = verdict(decode_event, raw), verdict(parse_event, raw)
    assert fast == reference, raw[:300]


def is_fast(raw: bytes) -> bool:
    return not isinstance(decode_event(raw), BaseModel)


def test_valid_cases_read_the_same():
    for param in VALID:
        event_type, mutation = param.values
        doc = event_doc(event_type)
        mutation(doc)
        assert_same(encode(doc))


def test_invalid_cases_are_refused_with_the_same_reasons():
    for param in INVALID:
        event_type, mutation, _ = param.values
        doc = event_doc(event_type)
        mutation(doc)
        assert_same(encode(doc))


def test_the_hostile_corpus_meets_the_same_fate():
    for case in CORPUS:
        assert_same(case.raw)


def test_generated_traffic_reads_the_same_and_mostly_takes_the_fast_path():
    plain = [to_wire(e) for e in generate_events(3_000, seed=11, start=backlog_start(3_000), rate=1000.0)]
    start = datetime.now(UTC)
    labelled = [to_wire(e.event) for e in generate_labelled(3_000, seed=12, start=start, anomaly_rate=0.05)]
    for raw in plain + labelled:
        assert_same(raw)
    # Every purchase (it has a value) takes the pydantic path; nearly all else the fast one.
    assert sum(map(is_fast, plain)) > 0.9 * len(plain)


EDGES: list[dict[str, Any]] = [
    {"timestamp": "2026-11-27T10:00:00.1234567Z"},  # msgspec would round, pydantic truncates
    {"timestamp": "2026-11-27T10:00:00.123456Z"},
    {"timestamp": "2026-11-27 10:00:00Z"},
    {"timestamp": "2026-11-27t10:00:00z"},
    {"timestamp": "2026-11-27T10:00Z"},
    {"timestamp": "2026-11-27T10:00:00+0100"},
    {"timestamp": "2026-11-27T10:00:00"},
    {"timestamp": "0001-01-01T00:00:00Z"},
    {"timestamp": "0001-01-02T00:00:00+00:00"},
    {"timestamp": "9999-12-30T00:00:00Z"},
    {"timestamp": "9999-12-31T23:00:00-05:00"},
    {"sent_at": "0001-01-01T12:00:00Z"},
    {"event_id": "8842C61C-46E4-4744-A2AD-E7076FC484DB"},
    {"event_id": "8842c61c46e44744a2ade7076fc484db"},
    {"event_id": "{8842c61c-46e4-4744-a2ad-e7076fc484db}"},
    {"user_id": "caf\u00e9 \U0001f600"},
    {"data": None},
    {"data": []},
    {"data": {"page": "/", "extra": 1e300}},
    {"data": {"page": "/", "extra": {"deep": [[[[1]]]]}}},
    {"data": {"page": "/", "referrer": None}},
    {"data": {"page": 1}},
    {"value": "1.00"},
]


def test_edge_spellings_read_the_same():
    for overrides in EDGES:
        assert_same(encode(event_doc("page_view", **overrides)))
    for raw in (
        encode(event_doc("video_watch", data={"video_id": "v", "watch_seconds": 1e308})),
        b'{"event_id": "8842c61c-46e4-4744-a2ad-e7076fc484db", "event_id": "x"}',
        encode(event_doc("video_watch")).replace(b'"watch_seconds": 12.5', b'"watch_seconds": 1e400'),
        encode(event_doc()).replace(b'"user_id": "user_1"', b'"user_id": "\\ud800"'),
        encode(event_doc()).replace(b'"user_id": "user_1"', b'"user_id": "a\\u0000"'),
        encode(event_doc()).replace(b'"user_id": "user_1"', b'"user_id": "a", "user_id": ""'),
        encode(event_doc("signup", data={"plan": "pro"})),
        encode(event_doc("login")).replace(b'"data": {}', b'"data": {"k": 1e999}'),
    ):
        assert_same(raw)


_FRACTIONS = st.text(alphabet="0123456789", min_size=0, max_size=9)
_OFFSETS = st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "+24:00", "+0530", "", "+05"])
_TIMES = st.builds(
    lambda date, sep, hms, fraction, offset: f"{date}{sep}{hms}{'.' + fraction if fraction else ''}{offset}",
    st.sampled_from(["2026-11-27", "0001-01-01", "0001-01-02", "9999-12-31", "2026-02-30", "26-11-27"]),
    st.sampled_from(["T", "t", " ", "_"]),
    st.sampled_from(["10:00:00", "10:00", "23:59:60", "24:00:00", "10:00:00:00"]),
    _FRACTIONS,
    _OFFSETS,
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["", "NaN", "1e400", "\x00", "\ud800", "user_1", "US", "mobile", "page_view"]),
)  # fmt: skip
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["page_view", "click", "search", "video_watch", "purchase", "signup", "login", "logout"]),
    field=st.sampled_from(["timestamp", "sent_at", "event_id", "user_id", "device", "country", "value", "data"]),
    value=st.one_of(_TIMES, _JSON),
    ascii_only=st.booleans(),
)
def test_any_one_field_changed_reads_the_same(kind, field, value, ascii_only):
    doc = event_doc(kind, **{field: value})
    assert_same(json.dumps(doc, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["page_view", "click", "search", "video_watch"]),
    key=st.sampled_from(["page", "referrer", "element", "query", "results_count", "video_id", "watch_seconds", "x"]),
    value=_JSON,
)
def test_any_data_field_changed_reads_the_same(kind, key, value):
    doc = event_doc(kind)
    doc["data"][key] = value
    assert_same(json.dumps(doc).encode("utf-8", "surrogatepass"))
