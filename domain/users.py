"""The `users` projection: a profile folded from a user's events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from domain.events import EventType, UserEvent

_ZERO = Decimal(0)
_PURCHASE = EventType.PURCHASE


class UserHistory(NamedTuple):
    """What mattered about a user before some events: for first-time and first-purchase flags."""

    seen: bool
    purchased: bool


class UserActivity(NamedTuple):
    """What some events alone say of a user: a partial profile that `merge_user` adds to the
    stored one. A plain tuple: the write path builds one per user of every batch."""

    user_id: str
    first_seen: datetime
    last_seen: datetime
    total_events: int
    total_purchases: int
    total_spent: Decimal
    country: str  # of the latest of these events


class UserTotals(NamedTuple):
    """A profile's counts once activity is merged in: with the activity, they tell what the user
    had done before it (`history_before`)."""

    total_events: int
    total_purchases: int


class User(BaseModel):
    """What we know of a user, derived only from their stored events."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    first_seen: datetime
    last_seen: datetime
    total_events: int
    total_purchases: int
    total_spent: Decimal
    country: str  # of the user's most recent event
    metadata: dict[str, Any] = Field(default_factory=dict)


def user_activity(
    events: Iterable[UserEvent], event_times: Iterable[datetime] | None = None
) -> dict[str, UserActivity]:
    """Fold events (in stream order) into one partial profile per user.

    Times are the events' `timestamp`s, or their event times (skew-corrected and
    clamped, see `domain.event_time`) when `event_times` is given, aligned with
    `events`. The result is what these events alone say; `merge_user` adds it to
    what was known before. Ties on time go to the later event in the stream.
    """
    events = list(events)
    times = list(event_times) if event_times is not None else [e.timestamp for e in events]
    # A plain list per user on the hot path; one tuple per user at the end.
    acc: dict[str, list[Any]] = {}
    for event, ts in zip(events, times, strict=True):
        purchase = event.event_type is _PURCHASE
        row = acc.get(event.user_id)
        if row is None:
            spent = (event.value if event.value is not None else _ZERO) if purchase else _ZERO
            acc[event.user_id] = [ts, ts, 1, 1 if purchase else 0, spent, event.country]
            continue
        if ts < row[0]:
            row[0] = ts
        if ts >= row[1]:
            row[1] = ts
            row[5] = event.country
        row[2] += 1
        if purchase:
            row[3] += 1
            if event.value is not None:
                row[4] += event.value
    return {
        user_id: UserActivity(user_id, first, last, count, purchases, spent, country)
        for user_id, (first, last, count, purchases, spent, country) in acc.items()
    }


def merge_user(known: User | None, activity: UserActivity) -> User:
    """Add newly seen activity to a stored profile (the same rule the SQL upsert applies)."""
    if known is None:
        return User(**activity._asdict())
    latest = activity.last_seen >= known.last_seen
    return known.model_copy(
        update={
            "first_seen": min(known.first_seen, activity.first_seen),
            "last_seen": activity.last_seen if latest else known.last_seen,
            "total_events": known.total_events + activity.total_events,
            "total_purchases": known.total_purchases + activity.total_purchases,
            "total_spent": known.total_spent + activity.total_spent,
            "country": activity.country if latest else known.country,
        }
    )


def history_before(after: UserTotals | User, activity: UserActivity) -> UserHistory:
    """The user's history before `activity` was merged into the profile now `after`."""
    return UserHistory(
        seen=after.total_events > activity.total_events,
        purchased=after.total_purchases > activity.total_purchases,
    )
