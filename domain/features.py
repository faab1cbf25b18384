"""Features for anomaly scoring: one fixed-order vector per event, from the user's past only.

`observe` is a fold over one user's events in processing order. An event's features come
from the state that the events observed before it built, plus the event's own fields;
only then is the state updated with the event. So no feature looks into the future:
appending events never changes the features of earlier ones, and a live run, a replay
and a training run over the same stream compute the same vectors.

Time is event time (see `domain.event_time`). Counting windows end at the event and
include it: "events in the last minute" is this event plus the earlier-observed ones
stamped in [t - 1 min, t], both ends included. An earlier-observed event stamped after
t (the stream is out of order) has not happened yet as far as t is concerned and counts
in no window nor in the purchase history. "Previous" means observed just before.

The state is small and bounded, so it can live per user in a stateful stream step:
event times are kept for the longest window plus the allowed lateness (windows stay
exact for events up to that far behind the newest one; later ones are left out of
real-time processing anyway), and at most `MAX_RECENT` of them, so a bot's hourly
count saturates there; the last `MAX_AMOUNTS` purchase amounts; the last `MAX_PLACES`
countries. Devices are an enum, so their set is bounded by it.

Amounts are compared as sent, whatever the currency: a user's currency rarely changes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import cos, log1p, pi, sin, sqrt
from uuid import UUID

from domain.enrichment import local_time_us
from domain.event_time import DEFAULT_ALLOWED_LATENESS
from domain.events import EventType, PastEvent, UserEvent

FEATURE_NAMES: tuple[str, ...] = (
    "events_last_1m",  # this event and the earlier ones in the last minute
    "events_last_1h",
    "purchases_last_1m",
    "clicks_last_10s",
    "seconds_since_previous",  # SECONDS_CAP for a first event; 0 when out of order
    "amount_log",  # log1p(value) of a purchase, 0 otherwise
    "amount_zscore",  # vs the user's earlier purchase amounts; 0 without >= 2 of them
    "amount_to_median",  # value / median of earlier purchase amounts; 0 without history
    "country_changed",  # 0/1 vs the previous event
    "countries_last_10m",  # distinct countries, this event's included
    "seconds_since_country_change",  # since the latest event in another country; SECONDS_CAP if none
    "device_changed",
    "new_device",  # 0/1: the user has earlier events, none on this device
    "new_country",  # 0/1: the user has earlier events, none from this country (of the last MAX_PLACES)
    "session_events_per_minute",  # events so far in this session_id / minutes since its start (>= 1)
    "hour_of_day_sin",  # local hour in the country's main time zone, on a circle
    "hour_of_day_cos",
    "is_purchase",
    "is_click",
    "is_login",
)

Features = tuple[float, ...]
"""Aligned with FEATURE_NAMES; plain tuples so a batch converts to a matrix in one call."""

INDEX: dict[str, int] = {name: i for i, name in enumerate(FEATURE_NAMES)}

SHORT_WINDOW = timedelta(seconds=10)
MINUTE = timedelta(minutes=1)
COUNTRY_WINDOW = timedelta(minutes=10)
HOUR = timedelta(hours=1)
SECONDS_CAP = 86_400.0  # "never" and "long ago" alike: beyond a day the exact gap tells a model nothing
MAX_RECENT = 3_600  # event times kept per list: one a second on average over the hour
MAX_AMOUNTS = 50
MAX_PLACES = 20
MAX_ZSCORE = 100.0  # beyond 100 standard deviations the exact figure tells a model nothing more
MAX_AMOUNT_RATIO = 10_000.0
CENT = 0.01  # floor of a median or standard deviation, so a zero never divides
SD_FLOOR_OF_MEAN = 0.1  # a user who always pays 9.99 has sd 0: amounts within ~10% stay ordinary

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US = 1_000_000
_SHORT = SHORT_WINDOW // _MICROSECOND
_MINUTE = MINUTE // _MICROSECOND
_TEN_MINUTES = COUNTRY_WINDOW // _MICROSECOND
_HOUR = HOUR // _MICROSECOND
_LATENESS = DEFAULT_ALLOWED_LATENESS // _MICROSECOND
_KEEP_TIMES, _KEEP_PURCHASES, _KEEP_CLICKS = _HOUR + _LATENESS, _MINUTE + _LATENESS, _SHORT + _LATENESS
_HOUR_CIRCLE = tuple((sin(2 * pi * h / 24), cos(2 * pi * h / 24)) for h in range(24))
_PURCHASE, _CLICK, _LOGIN = EventType.PURCHASE, EventType.CLICK, EventType.LOGIN


def _amounts() -> deque[float]:
    return deque(maxlen=MAX_AMOUNTS)


def _amount_times() -> deque[int]:
    return deque(maxlen=MAX_AMOUNTS)


@dataclass(slots=True)
class UserFeatureState:
    """What the features of a user's next event need from the past; times in µs since the epoch."""

    times: list[int] = field(default_factory=list)  # sorted event times, the last hour (+ lateness)
    purchase_times: list[int] = field(default_factory=list)  # sorted, the last minute (+ lateness)
    click_times: list[int] = field(default_factory=list)  # sorted, the last 10 s (+ lateness)
    amounts: deque[float] = field(default_factory=_amounts)  # the last MAX_AMOUNTS purchase values
    amount_times: deque[int] = field(default_factory=_amount_times)  # aligned with `amounts`
    newest_purchase: int = 0  # the latest purchase time ever observed: is all of `amounts` before t?
    countries: dict[str, int] = field(default_factory=dict)  # country -> latest time there; least recent first
    devices: set[str] = field(default_factory=set)
    previous_time: int | None = None
    previous_country: str = ""
    previous_device: str = ""
    elsewhere_time: int | None = None  # the latest event in a country other than `previous_country`
    session_id: UUID | None = None
    session_start: int = 0
    session_events: int = 0


def observe(
    state: UserFeatureState | None, event: UserEvent | PastEvent, event_time: datetime
) -> tuple[Features, UserFeatureState]:
    """The features of `event` (from `state`, i.e. earlier events only), then the state updated with it.

    Pass None for a user's first event. For speed the given state is updated in place and
    returned: keep no other reference to it if an earlier snapshot matters to you. Events
    of one user must come in processing order; `event_time` is the event's corrected time.
    """
    if state is None:
        state = UserFeatureState()
    now = (event_time - _EPOCH) // _MICROSECOND
    kind = event.event_type
    is_purchase, is_click = kind is _PURCHASE, kind is _CLICK
    country, device = event.country, event.device

    times = state.times
    at = bisect_right(times, now)  # earlier events stamped at or before now: times[:at]
    events_1m = at - bisect_left(times, now - _MINUTE, 0, at) + 1
    events_1h = at - bisect_left(times, now - _HOUR, 0, at) + 1
    # Most users have no recent purchase or click: empty lists need no search.
    purchase_times, click_times = state.purchase_times, state.click_times
    purchase_at = bisect_right(purchase_times, now) if purchase_times else 0
    purchases_1m = purchase_at - bisect_left(purchase_times, now - _MINUTE, 0, purchase_at) + is_purchase
    click_at = bisect_right(click_times, now) if click_times else 0
    clicks_10s = click_at - bisect_left(click_times, now - _SHORT, 0, click_at) + is_click

    countries = state.countries
    countries_10m = 1
    if len(countries) > 1 or country not in countries:
        since = now - _TEN_MINUTES
        for other, seen in countries.items():
            if other != country and since <= seen <= now:
                countries_10m += 1

    previous = state.previous_time
    if previous is None:  # a first event: nothing to compare with
        since_previous = since_elsewhere = SECONDS_CAP
        country_changed = device_changed = new_country = new_device = 0.0
    else:
        since_previous = min(max(now - previous, 0) / _US, SECONDS_CAP)
        country_changed = 1.0 if country != state.previous_country else 0.0
        elsewhere = previous if country_changed else state.elsewhere_time
        since_elsewhere = SECONDS_CAP if elsewhere is None else min(max(now - elsewhere, 0) / _US, SECONDS_CAP)
        device_changed = 1.0 if device != state.previous_device else 0.0
        new_country = 0.0 if country in countries else 1.0
        new_device = 0.0 if device in state.devices else 1.0

    amount_log = amount_z = amount_ratio = 0.0
    value = 0.0
    if is_purchase:
        value = float(event.value or 0)
        amount_log = log1p(value)
        amount_z, amount_ratio = _against_history(value, state, now)

    if event.session_id == state.session_id:
        session_events, session_start = state.session_events + 1, min(state.session_start, now)
    else:
        session_events, session_start = 1, now
    session_rate = session_events / max((now - session_start) / _MINUTE, 1.0)

    hour_sin, hour_cos = _HOUR_CIRCLE[local_time_us(now, country)[1]]
    features = (
        float(events_1m),
        float(events_1h),
        float(purchases_1m),
        float(clicks_10s),
        since_previous,
        amount_log,
        amount_z,
        amount_ratio,
        country_changed,
        float(countries_10m),
        since_elsewhere,
        device_changed,
        new_device,
        new_country,
        session_rate,
        hour_sin,
        hour_cos,
        1.0 if is_purchase else 0.0,
        1.0 if is_click else 0.0,
        1.0 if kind is _LOGIN else 0.0,
    )

    # Now, and only now, the event becomes part of the past.
    _insert(times, at, now, _KEEP_TIMES)
    if is_purchase:
        _insert(purchase_times, purchase_at, now, _KEEP_PURCHASES)
        state.amounts.append(value)
        state.amount_times.append(now)
        state.newest_purchase = max(state.newest_purchase, now)
    if is_click:
        _insert(click_times, click_at, now, _KEEP_CLICKS)
    last_there = countries.pop(country, now)  # re-inserted last: the dict stays least-recently-seen first
    countries[country] = max(last_there, now)
    if len(countries) > MAX_PLACES:
        del countries[next(iter(countries))]
    state.devices.add(device)
    if previous is not None and country_changed:
        state.elsewhere_time = previous
    state.previous_time, state.previous_country, state.previous_device = now, country, device
    state.session_id, state.session_start, state.session_events = event.session_id, session_start, session_events
    return features, state


def _against_history(value: float, state: UserFeatureState, now: int) -> tuple[float, float]:
    """(z-score, ratio to median) of a purchase amount vs the user's earlier purchases stamped before it."""
    history: deque[float] | list[float] = state.amounts
    if state.newest_purchase > now:  # out of order: some earlier-observed purchases happened after this one
        history = [a for a, t in zip(state.amounts, state.amount_times, strict=True) if t <= now]
    n = len(history)
    if n == 0:
        return 0.0, 0.0
    ordered = sorted(history)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    ratio = min(value / max(median, CENT), MAX_AMOUNT_RATIO)
    if n < 2:
        return 0.0, ratio
    mean = sum(ordered) / n
    sd = sqrt(sum((a - mean) ** 2 for a in ordered) / (n - 1))
    z = (value - mean) / max(sd, SD_FLOOR_OF_MEAN * abs(mean), CENT)
    return max(-MAX_ZSCORE, min(z, MAX_ZSCORE)), ratio


def _insert(times: list[int], at: int, now: int, keep: int) -> None:
    """Insert `now` at its sorted place `at`, then forget what is `keep` older than the newest."""
    if at == len(times):
        times.append(now)
    else:
        times.insert(at, now)
    oldest = times[-1] - keep
    if times[0] < oldest:
        del times[: bisect_left(times, oldest)]
    if len(times) > MAX_RECENT:
        del times[: len(times) - MAX_RECENT]


def extract(
    timed: Iterable[tuple[UserEvent, datetime]], states: dict[str, UserFeatureState] | None = None
) -> tuple[list[Features], dict[str, UserFeatureState]]:
    """Features of events of many users in processing order; `states` (per user) is updated in place."""
    states = {} if states is None else states
    out = []
    for event, event_time in timed:
        features, states[event.user_id] = observe(states.get(event.user_id), event, event_time)
        out.append(features)
    return out, states


def as_dict(features: Features) -> dict[str, float]:
    """Named features, e.g. for an anomaly record a person will read."""
    return dict(zip(FEATURE_NAMES, features, strict=True))
