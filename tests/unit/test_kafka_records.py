"""`to_raw_message`: a consumed confluent-kafka record as the event log port's `RawMessage`."""

from __future__ import annotations

from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, Message

from adapters.kafka.reader import to_raw_message
from application.messages import RawMessage


def test_every_field_is_copied_in_the_ports_order():
    message = Message(
        topic="user-events", partition=2, offset=41, key=b"u1", value=b'{"x": 1}',
        timestamp=(TIMESTAMP_CREATE_TIME, 1_765_000_000_123), headers=[("traceparent", b"00-abc-def-01")],
    )  # fmt: skip
    assert to_raw_message(message) == RawMessage(
        "user-events", 2, 41, b"u1", b'{"x": 1}', 1_765_000_000_123, (("traceparent", b"00-abc-def-01"),)
    )


def test_a_record_without_timestamp_headers_key_or_value_reads_as_none_and_empty():
    message = Message(topic="user-events", partition=0, offset=0, timestamp=(TIMESTAMP_NOT_AVAILABLE, -1))
    raw = to_raw_message(message)
    assert (raw.key, raw.value, raw.timestamp_ms, raw.headers) == (None, None, None, ())


def test_a_header_without_a_value_reads_as_empty_bytes():
    message = Message(topic="t", partition=0, offset=0, timestamp=(TIMESTAMP_CREATE_TIME, 5), headers=[("h", None)])
    assert to_raw_message(message).headers == (("h", b""),)
