"""Read models: what the API returns. Built by the query adapters, never stored."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import AnalyticsError
from domain.stats import DailyStats
from domain.users import User

T = TypeVar("T")


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


class EventView(View):
    event_id: UUID
    user_id: str
    session_id: UUID
    event_type: str
    timestamp: datetime
    event_time: datetime
    device: str
    country: str
    value: Decimal | None
    data: dict[str, Any]
    sent_at: datetime | None
    received_at: datetime
    late: bool
    anomaly_score: float | None = Field(description="0..1, higher is more anomalous; null until scored")


class UserView(User):
    """The `users` projection as stored, plus the latest churn score."""

    churn_probability: float | None = Field(description="null until a churn model has scored this user")


class DailyStatsView(DailyStats):
    """One `daily_stats` row (the domain's own shape)."""


class MinuteWindowView(View):
    window_start: datetime
    window_end: datetime
    events: int
    purchases: int
    revenue: Decimal
    active_users: int
    by_event_type: dict[str, int]
    by_country: dict[str, int]
    by_device: dict[str, int]


class RealtimeView(View):
    watermark: datetime | None = Field(description="windows ending this much before the newest arrival are closed")
    events_per_second: float = Field(description="over the 5 minutes before the watermark")
    windows: list[MinuteWindowView] = Field(description="latest closed minute windows, newest first")


class RateBucketView(View):
    bucket_start: datetime
    events: int = Field(description="on-time events whose event time falls in this 10-second bucket")
    events_per_second: float


class ConsumerProgressView(View):
    """Where a consumer stands in one partition: its last committed batch."""

    consumer: str
    topic: str
    partition: int
    next_offset: int = Field(description="the first offset not yet stored")
    received_until: datetime | None = Field(description="receive time of the newest event committed so far")
    updated_at: datetime = Field(description="when the last batch committed")


class AnomalyView(View):
    event_id: UUID
    user_id: str
    score: float
    reasons: list[str]
    detected_at: datetime
    model_version: str | None


class FailedEventView(View):
    id: int
    event_id: str | None
    error_type: str
    error_reason: str
    raw_data: str
    raw_encoding: str
    raw_truncated: bool
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    processor_version: str
    failed_at: datetime
    replayed_at: datetime | None


class Page(View, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class InvalidCursor(AnalyticsError):
    """A pagination cursor that this API did not issue."""


def encode_cursor(*values: Any) -> str:
    """An opaque keyset cursor (the sort key of the last item of a page)."""
    return base64.urlsafe_b64encode(json.dumps([str(v) for v in values]).encode()).decode()


def decode_cursor(cursor: str, arity: int) -> list[str]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor("cursor is not one this API issued") from error
    if not isinstance(values, list) or len(values) != arity or not all(isinstance(v, str) for v in values):
        raise InvalidCursor("cursor is not one this API issued")
    return values


def event_cursor(view: EventView) -> str:
    """The cursor after `view` in newest-first event pages."""
    return encode_cursor(view.event_time.isoformat(), view.event_id)


def parse_event_cursor(cursor: str) -> tuple[datetime, UUID]:
    moment, event_id = decode_cursor(cursor, 2)
    try:
        at, uuid = datetime.fromisoformat(moment), UUID(event_id)
    except ValueError as error:
        raise InvalidCursor("cursor is not one this API issued") from error
    if at.tzinfo is None:  # every issued cursor carries an offset; a naive one is forged
        raise InvalidCursor("cursor is not one this API issued")
    return at, uuid


def parse_id_cursor(cursor: str) -> int:
    [value] = decode_cursor(cursor, 1)
    try:
        return int(value)
    except ValueError as error:
        raise InvalidCursor("cursor is not one this API issued") from error
