"""Seeded, reproducible mock traffic: a stream of valid `UserEvent`s.

Pure: no I/O, no clock reads, no global randomness. Everything is drawn from one
`random.Random(seed)`, so the same arguments give the same events, event ids
included. Timestamps are simulated; pacing them in real time is the caller's job.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from application import traffic_profiles as tables
from domain.events import (
    ClickEvent,
    Device,
    EventType,
    LoginEvent,
    LogoutEvent,
    PageViewEvent,
    PurchaseEvent,
    SearchEvent,
    SignupEvent,
    UserEvent,
    VideoWatchEvent,
)  # fmt: skip

_EVENT_CLASSES = {
    EventType.PAGE_VIEW: PageViewEvent, EventType.CLICK: ClickEvent,
    EventType.SEARCH: SearchEvent, EventType.VIDEO_WATCH: VideoWatchEvent,
    EventType.PURCHASE: PurchaseEvent, EventType.SIGNUP: SignupEvent,
    EventType.LOGIN: LoginEvent, EventType.LOGOUT: LogoutEvent,
}  # fmt: skip
_MAX_DERIVED_USERS = 100_000  # takes ~0.1 s to set up
_MAX_PURCHASES = tables.MAX_PURCHASE_SHARE  # the funnel cannot be mostly purchases


@dataclass(frozen=True)
class TrafficProfile:
    """The shape of the simulated traffic; defaults aim at a plausible consumer site."""

    users: int | None = None  # None: one per 40 events, within [50, 100_000]
    mean_session_events: float = 6.0  # sessions hold at least 2 events
    concurrent_sessions: int = 100  # sessions open at once, capped at an eighth of the users
    activity_exponent: float = 1.0  # user weight (rank + offset) ** -exponent: Zipf-like
    activity_offset: float = 3.0  # flattens the very top so no single user dominates
    purchase_share: float = 0.04  # approximate share of all events
    login_share: float = 0.35  # of a returning user's sessions; the rest open on a page_view
    logout_share: float = 0.22  # of sessions of 3+ events, closed by an explicit logout
    device_switch_share: float = 0.08  # sessions on another device than the user's primary
    sent_at_share: float = 0.3  # events carrying a client send time
    purchase_median: float = 35.0  # lognormal purchase value: median and log-sigma
    purchase_sigma: float = 1.1
    country_shares: tuple[tuple[str, float], ...] = tables.COUNTRY_SHARES
    device_shares: tuple[tuple[Device, float], ...] = tables.DEVICE_SHARES

    def __post_init__(self) -> None:
        if self.users is not None and self.users < 1:
            raise ValueError("users must be at least 1")
        if self.mean_session_events < 2 or self.concurrent_sessions < 1:
            raise ValueError("mean_session_events must be >= 2 and concurrent_sessions >= 1")
        shares = (self.purchase_share, self.login_share, self.logout_share,
                  self.device_switch_share, self.sent_at_share)  # fmt: skip
        if not all(0.0 <= s <= 1.0 for s in shares) or self.purchase_share > _MAX_PURCHASES:
            raise ValueError(f"shares must lie in [0, 1] (purchase_share in [0, {_MAX_PURCHASES}])")
        if self.purchase_median < tables.MIN_VALUE or self.purchase_sigma < 0:
            raise ValueError("purchase_median must be >= 0.50 and purchase_sigma >= 0")
        unknown = {c for c, _ in self.country_shares} - tables.CURRENCY_OF.keys()
        if unknown or not self.country_shares or not self.device_shares:
            raise ValueError(f"country_shares need known currencies; unknown: {sorted(unknown)}")

    def user_count(self, count: int) -> int:
        """How many distinct users a stream of `count` events is drawn from."""
        if self.users is not None:
            return self.users
        # Capped: users are set up front, and a long run needs no more than this.
        return max(50, min(count // 40, _MAX_DERIVED_USERS))


def generate_events(
    count: int,
    *,
    seed: int,
    start: datetime,
    rate: float = 1000.0,
    profile: TrafficProfile = TrafficProfile(),
) -> Iterator[UserEvent]:
    """Yield `count` valid events of simulated user traffic, lazily.

    Timestamps start at `start` (timezone-aware) and advance by exponential gaps
    averaging `1 / rate` seconds, so the stream is in time order and runs at about
    `rate` events per second of simulated time (at most 10**6: the gap is >= 1 µs).
    Sessions of several users are interleaved; within a session time increases.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError("rate must be a positive, finite number of events per second")
    # Checked eagerly above; the stream itself is a separate generator.
    return _stream(count, random.Random(seed), start, rate, profile)


def to_wire(event: UserEvent) -> bytes:
    """The event as JSON bytes, as a client would send it (absent optionals omitted)."""
    return event.model_dump_json(exclude_none=True).encode()


def partition_key(event: UserEvent) -> bytes:
    """The log partition key: the user id, so one user's events stay in order."""
    return event.user_id.encode()


def _stream(
    count: int, rng: random.Random, start: datetime, rate: float, profile: TrafficProfile
) -> Iterator[UserEvent]:
    world = _World(rng, profile.user_count(count), profile)
    slots = min(profile.concurrent_sessions, max(1, world.users // 8))
    active = [world.open_session() for _ in range(slots)]
    # One simulated clock for the whole stream: sessions take turns at random, so
    # each session's events are in time order and users' sessions interleave.
    clock_us = 0
    for _ in range(count):
        index = rng.randrange(slots)
        session = active[index]
        yield world.next_event(session, start + timedelta(microseconds=clock_us))
        if session.remaining == 0:
            world.busy[session.user] = 0
            active[index] = world.open_session()
        clock_us += max(1, round(rng.expovariate(rate) * 1e6))


class _Session:
    """One open session; `page` stays None until its landing page_view."""

    __slots__ = ("user", "session_id", "device", "country", "remaining", "opener", "logout",
                 "last", "page")  # fmt: skip

    def __init__(self, user: int, session_id: uuid.UUID, device: Device, country: str,
                 length: int, opener: EventType, logout: bool) -> None:  # fmt: skip
        self.user, self.session_id, self.device, self.country = user, session_id, device, country
        self.remaining, self.opener, self.logout = length, opener, logout
        self.last: EventType | None = None
        self.page: str | None = None


class _World:
    """The simulated users and what they do; all randomness comes from one `rng`."""

    def __init__(self, rng: random.Random, users: int, profile: TrafficProfile) -> None:
        self.rng, self.profile, self.users = rng, profile, users
        self.user_ids = [f"user_{i:06d}" for i in range(1, users + 1)]
        self.user_range = range(users)
        weights = [(rank + profile.activity_offset) ** -profile.activity_exponent
                   for rank in range(1, users + 1)]  # fmt: skip
        rng.shuffle(weights)  # spread the heavy users over the id range
        self.activity = list(accumulate(weights))
        countries, shares = zip(*profile.country_shares, strict=False)
        self.home = rng.choices(countries, shares, k=users)
        devices, device_shares = zip(*profile.device_shares, strict=False)
        self.devices = tuple(Device(d) for d in devices)  # strict models want the enum
        self.device_cum = list(accumulate(device_shares))
        self.can_switch = sum(share > 0 for share in device_shares) > 1
        self.primary = rng.choices(self.devices, cum_weights=self.device_cum, k=users)
        self.seen, self.busy = bytearray(users), bytearray(users)
        boost = tables.purchase_boost(profile.purchase_share)
        self.transitions = {
            last: list(accumulate(w * boost if nxt is EventType.PURCHASE else w
                                  for nxt, w in zip(tables.BODY_EVENTS, row, strict=False)))
            for last, row in tables.TRANSITIONS.items()
        }  # fmt: skip
        # Geometric extra length beyond the 2 events every session has.
        extra = profile.mean_session_events - 2
        self.log_continue = math.log(extra / (extra + 1)) if extra > 0 else None

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def open_session(self) -> _Session:
        """A new session for an idle user drawn by activity weight."""
        rng, profile = self.rng, self.profile
        user = tables.pick(rng, self.user_range, self.activity)
        while self.busy[user]:  # at most an eighth of the users are busy: ends quickly
            user = tables.pick(rng, self.user_range, self.activity)
        self.busy[user] = 1
        device = self.primary[user]
        if self.can_switch and rng.random() < profile.device_switch_share:
            while device == self.primary[user]:
                device = tables.pick(rng, self.devices, self.device_cum)
        length = 2
        if self.log_continue is not None:
            length += int(math.log(1.0 - rng.random()) / self.log_continue)
        if not self.seen[user]:
            opener = EventType.SIGNUP
            self.seen[user] = 1
        else:
            opener = EventType.LOGIN if rng.random() < profile.login_share else EventType.PAGE_VIEW
        logout = length >= 3 and rng.random() < profile.logout_share
        return _Session(user, self.uuid(), device, self.home[user], length, opener, logout)

    def next_event(self, session: _Session, timestamp: datetime) -> UserEvent:
        """The session's next event, in funnel order, at `timestamp`."""
        rng = self.rng
        if session.last is None:
            kind = session.opener
        elif session.page is None:
            kind = EventType.PAGE_VIEW  # the landing page, right after signup or login
        elif session.remaining == 1 and session.logout:
            kind = EventType.LOGOUT
        else:
            kind = tables.pick(rng, tables.BODY_EVENTS, self.transitions[session.last])
        fields = {
            "event_id": self.uuid(), "user_id": self.user_ids[session.user],
            "session_id": session.session_id, "timestamp": timestamp,
            "device": session.device, "country": session.country, "event_type": kind,
        }  # fmt: skip
        if rng.random() < self.profile.sent_at_share:
            # Clients send a little after the fact: ~50 ms typically, never above 5 s.
            delay_ms = min(rng.expovariate(1 / 50), 5_000.0)
            fields["sent_at"] = timestamp + timedelta(milliseconds=delay_ms)
        if kind is EventType.PURCHASE:
            median, sigma = self.profile.purchase_median, self.profile.purchase_sigma
            fields["value"] = tables.purchase_value(rng, median, sigma)
        data = self.payload(kind, session)
        if data is not None:
            fields["data"] = data
        session.last = kind
        session.remaining -= 1
        return _EVENT_CLASSES[kind](**fields)

    def payload(self, kind: EventType, session: _Session) -> dict[str, Any] | None:
        """The type-specific `data` of one event; a page_view moves the session's page."""
        rng = self.rng
        if kind is EventType.PAGE_VIEW:
            page = tables.page(rng)
            # The first page of a session comes from outside; later ones from the last page.
            referrer = session.page or tables.external_referrer(rng)
            session.page = page
            return {"page": page, "referrer": referrer} if referrer else {"page": page}
        if kind is EventType.CLICK:
            return {"page": session.page or "/", "element": rng.choice(tables.CLICK_ELEMENTS)}
        if kind is EventType.SEARCH:
            return tables.search_data(rng)
        if kind is EventType.VIDEO_WATCH:
            return tables.video_data(rng)
        if kind is EventType.PURCHASE:
            return tables.purchase_data(rng, tables.CURRENCY_OF[session.country])
        return None  # signup, login and logout carry no data
