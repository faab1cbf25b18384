"""Derived fields analytics needs on each processed event, as pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from domain.country_zones import COUNTRY_ZONE
from domain.events import EventType, UserEvent
from domain.sessions import Placement
from domain.users import UserHistory


class Enrichment(NamedTuple):
    local_day: date  # in the country's main time zone
    local_hour: int
    is_new_user: bool  # the first event the platform has of this user
    is_first_purchase: bool  # the user's first purchase
    session_start: datetime | None  # None for late events, which sessions leave out
    session_event_number: int | None  # 1 for the event that opened its session


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PURCHASE = EventType.PURCHASE
_QUARTER = timedelta(minutes=15)
_QUARTER_US = _QUARTER // timedelta(microseconds=1)


@lru_cache(maxsize=512)
def _zone(country: str) -> ZoneInfo:
    return ZoneInfo(COUNTRY_ZONE.get(country, "UTC"))


def local_time(event_time: datetime, country: str) -> tuple[date, int]:
    """Day and hour where the user is, taking the country's main time zone."""
    # Every UTC offset is a multiple of 15 minutes, so the local day and hour are the same
    # for a whole UTC quarter-hour: cache per (country, quarter-hour); this runs per event.
    return _local_quarter(country, (event_time - _EPOCH) // _QUARTER)


def local_time_us(micros: int, country: str) -> tuple[date, int]:
    """`local_time` of a moment given as microseconds since the epoch."""
    return _local_quarter(country, micros // _QUARTER_US)


@lru_cache(maxsize=8192)
def _local_quarter(country: str, quarter: int) -> tuple[date, int]:
    local = (_EPOCH + quarter * _QUARTER).astimezone(_zone(country))
    return local.date(), local.hour


def enrich(
    events: Sequence[tuple[UserEvent, datetime]],
    history: Mapping[str, UserHistory | None],
    placements: Sequence[Placement | None],
) -> list[Enrichment]:
    """Enrich newly stored events, in processing order.

    `history` says what each user had done before these events (missing or None: nothing);
    `placements` gives each event's session (None for late events), aligned with `events`.
    """
    seen: set[str] = {user_id for user_id, h in history.items() if h is not None and h.seen}
    purchased: set[str] = {user_id for user_id, h in history.items() if h is not None and h.purchased}
    out = []
    for (event, event_time), placement in zip(events, placements, strict=True):
        user_id = event.user_id
        is_new = user_id not in seen
        if is_new:
            seen.add(user_id)
        first_purchase = event.event_type is _PURCHASE and user_id not in purchased
        if first_purchase:
            purchased.add(user_id)
        day, hour = local_time(event_time, event.country)
        if placement is None:
            out.append(Enrichment(day, hour, is_new, first_purchase, None, None))
        else:
            out.append(Enrichment(day, hour, is_new, first_purchase, placement.session_start, placement.event_number))
    return out
