"""Dead letters: why an input could not become an event, with enough to recover it."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

# A dead letter keeps this much of an oversize payload: enough to see what it was.
MAX_STORED_RAW_BYTES = 64 * 1024


class ErrorType(StrEnum):
    DESERIALIZE = "deserialize"  # not JSON, not UTF-8, not an object
    SCHEMA = "schema"  # JSON, but not a valid event of the contract
    SIZE = "size"  # payload above the size limit; stored truncated
    PERSIST = "persist"  # valid, but the database refused it
    PUBLISH = "publish"  # valid and stored, but an output topic refused its copy for good (too large for it)
    DUPLICATE = "duplicate"  # a known event_id arrived again with different content
    LATE = "late"  # beyond the allowed lateness (kept for stream processing)


class FailedEvent(BaseModel):
    """A Snowplow-style bad row: the raw input plus where it came from and why it failed."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None  # assigned by the store
    error_type: ErrorType
    error_reason: str
    raw_data: str
    raw_encoding: Literal["utf-8", "base64"] = "utf-8"  # base64 when the bytes are not clean UTF-8
    raw_truncated: bool = False
    event_id: str | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    # Posted over HTTP with an `Idempotency-Key`: the key and the item's index in the request.
    # A retried request (same key) is dead-lettered once, as a record read twice from the log is.
    request_key: str | None = None
    request_index: int | None = None
    processor_version: str
    failed_at: datetime

    @classmethod
    def of_payload(
        cls,
        raw: bytes,
        error_type: ErrorType,
        reason: str,
        *,
        processor_version: str,
        failed_at: datetime,
        event_id: str | None = None,
        source_topic: str | None = None,
        source_partition: int | None = None,
        source_offset: int | None = None,
        request_key: str | None = None,
        request_index: int | None = None,
    ) -> FailedEvent:
        """The dead letter of `raw`, kept as `describe_payload` stores it, with where it came from:
        a log position (`source_*`) or an idempotent request (`request_*`)."""
        raw_data, encoding, truncated = describe_payload(raw)
        return cls(
            error_type=error_type,
            error_reason=reason,
            raw_data=raw_data,
            raw_encoding=encoding,
            raw_truncated=truncated,
            event_id=event_id,
            source_topic=source_topic,
            source_partition=source_partition,
            source_offset=source_offset,
            request_key=request_key,
            request_index=request_index,
            processor_version=processor_version,
            failed_at=failed_at,
        )


def describe_payload(raw: bytes) -> tuple[str, Literal["utf-8", "base64"], bool]:
    """Payload as storable text: (text, encoding, truncated).

    Clean UTF-8 is kept as is; anything else (invalid UTF-8, NUL, which Postgres
    text cannot hold) is base64, so the original bytes can always be recovered.
    """
    truncated = len(raw) > MAX_STORED_RAW_BYTES
    if truncated:
        raw = raw[:MAX_STORED_RAW_BYTES]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        return base64.b64encode(raw).decode("ascii"), "base64", truncated
    return text, "utf-8", truncated
