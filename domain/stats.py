"""Daily statistics: one row per (UTC day, event type, country)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class DailyStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    day: date
    event_type: str
    country: str
    events: int
    unique_users: int
    purchases: int
    revenue: Decimal
