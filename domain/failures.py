"""Dead letters: why an input could not become an event, with enough to recover it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


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
