"""`FailedEvent.of_payload`: the one way a payload becomes a dead letter, wherever it came from."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from domain.failures import MAX_STORED_RAW_BYTES, ErrorType, FailedEvent, describe_payload

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_record_of_the_log_keeps_its_position_and_no_request():
    dead = FailedEvent.of_payload(
        b'{"event_type": "teleport"}', ErrorType.SCHEMA, "event_type: unknown",
        event_id="e-1", source_topic="user-events", source_partition=2, source_offset=41,
        processor_version="v9", failed_at=NOW,
    )  # fmt: skip

    assert dead.model_dump(exclude={"id"}) == {
        "error_type": ErrorType.SCHEMA,
        "error_reason": "event_type: unknown",
        "raw_data": '{"event_type": "teleport"}',
        "raw_encoding": "utf-8",
        "raw_truncated": False,
        "event_id": "e-1",
        "source_topic": "user-events",
        "source_partition": 2,
        "source_offset": 41,
        "request_key": None,
        "request_index": None,
        "processor_version": "v9",
        "failed_at": NOW,
    }


def test_an_item_of_a_request_keeps_its_key_and_index_and_no_position():
    dead = FailedEvent.of_payload(
        b"not json", ErrorType.DESERIALIZE, "invalid JSON",
        request_key="0b7c6a40-5f43-4c0e-9d0e-2f1d5b1f8a11", request_index=3, processor_version="v9", failed_at=NOW,
    )  # fmt: skip

    assert (dead.request_key, dead.request_index) == ("0b7c6a40-5f43-4c0e-9d0e-2f1d5b1f8a11", 3)
    assert (dead.source_topic, dead.source_partition, dead.source_offset, dead.event_id) == (None, None, None, None)


@pytest.mark.parametrize(
    ("raw", "encoding", "truncated"),
    [
        (b"x" * (MAX_STORED_RAW_BYTES + 10), "utf-8", True),
        (b'{"user_id": "caf\xe9"}', "base64", False),
        (b"a\x00b", "base64", False),
    ],
)
def test_the_payload_is_stored_as_describe_payload_says(raw, encoding, truncated):
    dead = FailedEvent.of_payload(raw, ErrorType.SIZE, "too big", processor_version="v9", failed_at=NOW)

    assert (dead.raw_data, dead.raw_encoding, dead.raw_truncated) == describe_payload(raw)
    assert (dead.raw_encoding, dead.raw_truncated) == (encoding, truncated)


def test_describe_payload_keeps_valid_utf8_as_is():
    assert describe_payload('{"city": "Zürich"}'.encode()) == ('{"city": "Zürich"}', "utf-8", False)


def test_describe_payload_keeps_nul_recoverable_although_text_columns_cannot_hold_it():
    text, encoding, truncated = describe_payload(b"a\x00b")

    assert "\x00" not in text
    assert (encoding, truncated) == ("base64", False)
    assert base64.b64decode(text) == b"a\x00b"


def test_describe_payload_truncates_only_above_the_limit():
    assert describe_payload(b"x" * MAX_STORED_RAW_BYTES) == ("x" * MAX_STORED_RAW_BYTES, "utf-8", False)
    assert describe_payload(b"x" * (MAX_STORED_RAW_BYTES + 1)) == ("x" * MAX_STORED_RAW_BYTES, "utf-8", True)
