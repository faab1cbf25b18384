"""Properties: no input, however hostile, crashes validation, decoding or the collector.

Every payload ends either as a valid event or as an `InvalidEvent` / dead letter with a
known `error_type`; every record of a batch is accounted for; what is accepted can be
recorded. Inputs: random bytes, the corpus, and valid events mutated field by field
(wrong types, extreme times and numbers, lone surrogates, NUL, corrupted bytes).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.in_memory.event_log import InMemoryEventLog
from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from application.collector import collect, split_body
from application.decoding import decode_batch
from application.ingest import Recorder
from application.messages import RawMessage
from application.ports.event_log import Acknowledged
from application.processed import ProcessedEvent
from domain.errors import InvalidEvent
from domain.events import EARLIEST_TIME, LATEST_TIME, BaseEvent
from domain.failures import ErrorType
from domain.validation import parse_event
from tests.hostile.corpus import CORPUS, DATA, event, wire

pytestmark = pytest.mark.hostile

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# What validation may answer; `persist` only comes from the store, `duplicate`/`late` never here.
VALIDATION_ERRORS = {ErrorType.DESERIALIZE, ErrorType.SCHEMA, ErrorType.SIZE}
BOUNDED = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

characters = st.one_of(
    st.characters(codec=None),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from("\x00\\\"'{}[]:,\u202e\ufeff"),
)
texts = st.text(characters, max_size=12)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),  # NaN and infinities included
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)
# Times anywhere in the calendar, and often at its edges, where shifting by an offset overflows.
EDGES = [
    datetime(1, 1, 1),
    datetime(1, 1, 1, 23, 59),
    datetime(1, 1, 2),
    datetime(9999, 12, 30),
    datetime(9999, 12, 31, 23),
]
offsets = st.one_of(
    st.timedeltas(min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)),
    st.sampled_from([timedelta(hours=14), timedelta(hours=-14), timedelta(0)]),
)
moments = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)), st.sampled_from(EDGES)
)
iso_times = st.builds(lambda moment, offset: moment.replace(tzinfo=timezone(offset)).isoformat(), moments, offsets)
FIELD_VALUES = {
    "timestamp": iso_times | json_values,
    "sent_at": iso_times | json_values,
    "value": numbers | json_values,
    "event_type": st.sampled_from(list(DATA)) | json_values,
}


@st.composite
def mutated_events(draw: st.DrawFn) -> bytes:
    """A valid event with some fields dropped or replaced, encoded either way, maybe corrupted."""
    doc = event("property", draw(st.sampled_from(list(DATA))))
    for field in draw(st.lists(st.sampled_from([*doc, "value", "sent_at", "extra"]), max_size=4)):
        if draw(st.booleans()):
            doc.pop(field, None)
        else:
            doc[field] = draw(FIELD_VALUES.get(field, json_values))
    if isinstance(doc.get("data"), dict) and draw(st.booleans()):
        doc["data"][draw(st.sampled_from([*doc["data"], "extra"]))] = draw(json_values)
    # Without ASCII escaping, lone surrogates become encoded surrogates: invalid UTF-8 bytes.
    raw = bytearray(json.dumps(doc, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(raw) - 1))
        raw[at : at + draw(st.integers(0, 2))] = draw(st.binary(max_size=2))
    return bytes(raw)


@st.composite
def timed_events(draw: st.DrawFn) -> bytes:
    """A valid event but for its times: any timestamp, and maybe a `sent_at` to correct it by."""
    times = {"timestamp": draw(iso_times)}
    if draw(st.booleans()):
        times["sent_at"] = draw(iso_times)
    return wire(event("timed", draw(st.sampled_from(list(DATA))), **times))


payloads = st.one_of(
    st.binary(max_size=300),
    mutated_events(),
    timed_events(),
    st.sampled_from([case.raw for case in CORPUS]),
)
record_timestamps = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # producers set these
    st.sampled_from([0, 1, 253_402_300_799_000, 2**62]),
)


@BOUNDED
@given(payloads)
def test_any_payload_is_an_event_or_an_invalid_event_of_a_known_type(raw: bytes):
    try:
        event_ = parse_event(raw)
    except InvalidEvent as invalid:
        assert invalid.error_type in VALIDATION_ERRORS and invalid.reason
    else:
        assert isinstance(event_, BaseEvent)
        assert EARLIEST_TIME <= event_.timestamp <= LATEST_TIME
        assert "\x00" not in event_.data.model_dump_json()  # storable as Postgres text


@BOUNDED
@given(st.lists(st.tuples(st.none() | payloads, record_timestamps), min_size=1, max_size=6))
def test_every_record_of_a_batch_is_an_event_or_a_dead_letter_and_the_events_can_be_recorded(records):
    messages = [RawMessage("t", 0, offset, b"k", raw, ts) for offset, (raw, ts) in enumerate(records)]

    batch = decode_batch(messages, consumer="c", processor_version="v", now=NOW)

    accounted = sorted([r.offset for r in batch.events] + [f.source_offset for f in batch.failures])
    assert accounted == list(range(len(records))) and batch.position.next_offset == len(records)
    for failure in batch.failures:
        assert failure.error_type in VALIDATION_ERRORS and failure.error_reason
        raw = messages[failure.source_offset].value or b""
        kept = base64.b64decode(failure.raw_data) if failure.raw_encoding == "base64" else failure.raw_data.encode()
        assert kept == raw[: len(kept)] and (failure.raw_truncated or kept == raw)
    for received in batch.events:
        assert EARLIEST_TIME <= received.event_time <= LATEST_TIME
    # Projections and enrichment take local days and hours of these times without overflowing.
    published = _Published()
    Recorder(lambda: InMemoryUnitOfWork(InMemoryState()), "v", publisher=published)(batch, NOW)
    assert len(published.events) == len({r.event.event_id for r in batch.events})


@BOUNDED
@given(st.one_of(payloads, st.lists(payloads, max_size=4).map(lambda items: b"[" + b",".join(items) + b"]")))
def test_any_body_is_split_and_collected_or_refused_as_invalid(body: bytes):
    try:
        items = split_body(body)
    except InvalidEvent as invalid:
        assert invalid.error_type in VALIDATION_ERRORS and invalid.reason
        return
    log, state = InMemoryEventLog(), InMemoryState()
    result = collect(
        items,
        publisher=log,
        topic="user-events",
        start_unit_of_work=lambda: InMemoryUnitOfWork(state),
        processor_version="api/test",
        now=NOW,
    )
    assert result.accepted + len(result.rejected) == len(items)
    assert [f.error_type for f in state.dead_letters] == [r.error.split(":")[0] for r in result.rejected]


class _Published:
    def __init__(self) -> None:
        self.events: list[ProcessedEvent] = []

    def publish_processed(self, events: Sequence[ProcessedEvent]) -> Acknowledged:
        self.events.extend(events)
        return Acknowledged()
