"""Decoding log records into a batch: every record ends as an event or a dead letter."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from application.messages import LogPosition, RawMessage
from domain.failures import MAX_STORED_RAW_BYTES, ErrorType
from domain.validation import MAX_EVENT_BYTES
from tests.factories import NOW, VERSION, decode, event_doc, payload, raw_message

# === decode_batch ========================================================================


def test_valid_and_invalid_records_are_split_and_none_is_dropped():
    values = [
        payload(),  # 100 valid
        b"not json",  # 101 deserialize
        payload("purchase"),  # 102 valid
        payload(device="phone"),  # 103 schema
        None,  # 104 deserialize
        payload("signup"),  # 105 valid
    ]
    messages = [raw_message(value, offset=100 + i) for i, value in enumerate(values)]

    decoded = decode(messages)

    assert len(decoded.events) + len(decoded.failures) == len(messages)
    assert [r.offset for r in decoded.events] == [100, 102, 105]
    assert [f.source_offset for f in decoded.failures] == [101, 103, 104]
    assert [f.error_type for f in decoded.failures] == [ErrorType.DESERIALIZE, ErrorType.SCHEMA, ErrorType.DESERIALIZE]


def test_all_valid_records_give_no_dead_letters():
    messages = [raw_message(payload(), offset=i) for i in range(5)]

    decoded = decode(messages)

    assert len(decoded.events) == 5
    assert decoded.failures == []


def test_all_invalid_records_give_no_events_but_still_a_position():
    messages = [raw_message(b"{}", offset=i) for i in range(3)]

    decoded = decode(messages)

    assert decoded.events == []
    assert len(decoded.failures) == 3
    assert decoded.position.next_offset == 3


def test_valid_event_keeps_its_log_position():
    doc = event_doc("click")
    message = raw_message(json.dumps(doc).encode(), partition=4, offset=77, topic="clicks")

    [event] = decode([message]).events

    assert (event.topic, event.partition, event.offset) == ("clicks", 4, 77)
    assert str(event.event.event_id) == doc["event_id"]


def test_received_at_is_the_log_timestamp_when_the_record_has_one():
    logged = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    message = RawMessage("user-events", 0, 0, None, payload(), timestamp_ms=int(logged.timestamp() * 1000))

    [event] = decode([message]).events

    assert event.received_at == logged


def test_received_at_is_now_when_the_record_has_no_timestamp():
    [event] = decode([raw_message(payload())], now=NOW).events

    assert event.received_at == NOW


def test_dead_letter_carries_its_source_position_version_and_reason():
    raw = payload(device="phone")
    message = raw_message(raw, partition=3, offset=42, topic="user-events")

    [dead] = decode([message]).failures

    assert dead.source_topic == "user-events"
    assert dead.source_partition == 3
    assert dead.source_offset == 42
    assert dead.processor_version == VERSION
    assert dead.failed_at == NOW
    assert dead.error_type == ErrorType.SCHEMA
    assert "device:" in dead.error_reason
    assert dead.raw_data == raw.decode()
    assert dead.raw_truncated is False


def test_schema_dead_letter_keeps_the_event_id():
    doc = event_doc(country="us")

    [dead] = decode([raw_message(json.dumps(doc).encode())]).failures

    assert dead.event_id == doc["event_id"]


def test_position_is_just_past_the_last_record():
    messages = [raw_message(payload(), partition=2, offset=o, topic="user-events") for o in (500, 501, 502)]

    decoded = decode(messages, consumer="ingest-group")

    assert decoded.position == LogPosition("ingest-group", "user-events", 2, 503, received_until=NOW)


def test_position_remembers_the_latest_receive_time_of_the_batch():
    early, late = datetime(2026, 11, 27, 9, tzinfo=UTC), datetime(2026, 11, 27, 10, tzinfo=UTC)
    stamps = [late, early]
    messages = [
        RawMessage("user-events", 0, i, None, payload(), timestamp_ms=int(t.timestamp() * 1000))
        for i, t in enumerate(stamps)
    ]

    assert decode(messages).position.received_until == late


def test_position_is_just_past_the_last_record_even_when_it_is_invalid():
    messages = [raw_message(payload(), offset=9), raw_message(b"[]", offset=10)]

    assert decode(messages).position.next_offset == 11


def test_record_without_a_value_is_a_deserialize_dead_letter():
    [dead] = decode([raw_message(None, offset=8)]).failures

    assert dead.error_type == ErrorType.DESERIALIZE
    assert dead.source_offset == 8
    assert dead.raw_data == ""
    assert dead.event_id is None


def test_oversize_payload_is_stored_truncated():
    doc = event_doc()
    doc["data"]["padding"] = "x" * (MAX_EVENT_BYTES + 1)
    raw = json.dumps(doc).encode()

    [dead] = decode([raw_message(raw)]).failures

    assert dead.error_type == ErrorType.SIZE
    assert dead.raw_truncated is True
    assert len(dead.raw_data.encode()) <= MAX_STORED_RAW_BYTES
    assert MAX_STORED_RAW_BYTES == 64 * 1024
    assert raw.decode().startswith(dead.raw_data)
    assert dead.raw_data.startswith('{"event_id"')  # enough kept to see what it was


def test_invalid_utf8_is_a_deserialize_dead_letter_stored_as_base64_of_the_exact_bytes():
    raw = b'{"user_id": "caf\xe9", "x": "\xff"}'

    [dead] = decode([raw_message(raw)]).failures

    assert dead.error_type == ErrorType.DESERIALIZE
    assert (dead.raw_encoding, dead.raw_truncated) == ("base64", False)
    assert base64.b64decode(dead.raw_data) == raw
