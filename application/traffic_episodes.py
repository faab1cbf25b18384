"""The anomalous episodes injected by `application.traffic_anomalies`, and the user history they need.

Pure, like the rest of the generator: every draw takes the caller's `random.Random`.
An episode is built when its start comes up in stream time, from the victim's normal
history at that moment, so its defining property (an amount far above the user's median,
a device and country never seen) holds against everything the stream showed before it.

Time scales are those of a site where a session's events come ~10 s apart; `tempo` (<= 1)
shrinks them for faster simulated streams, so episodes stay faster than normal traffic.
"""

from __future__ import annotations

import math
import random
import statistics
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from application import traffic_profiles as tables
from domain.country_zones import COUNTRY_ZONE
from domain.events import (
    ClickEvent,
    Device,
    EventType,
    LoginEvent,
    PageViewEvent,
    PurchaseEvent,
    UserEvent,
)  # fmt: skip

STOLEN_CARD, PURCHASE_BURST, CLICK_FLOOD = "stolen_card", "purchase_burst", "click_flood"
IMPOSSIBLE_TRAVEL, ACCOUNT_TAKEOVER = "impossible_travel", "account_takeover"
# Share of episodes (not events) per kind; a flood holds ~65 events, a stolen card one.
KIND_WEIGHTS: dict[str, float] = {
    STOLEN_CARD: 0.40, IMPOSSIBLE_TRAVEL: 0.25, ACCOUNT_TAKEOVER: 0.20, PURCHASE_BURST: 0.10, CLICK_FLOOD: 0.05,
}  # fmt: skip
MIN_HISTORY = 5  # normal events a user needs (since any earlier episode) to be a victim
MIN_PURCHASES = 2  # normal purchases a stolen-card victim needs, for a median to exceed
_SIZES = {STOLEN_CARD: (1, 1), PURCHASE_BURST: (5, 15), CLICK_FLOOD: (30, 100),
          IMPOSSIBLE_TRAVEL: (1, 3), ACCOUNT_TAKEOVER: (2, 3)}  # fmt: skip
# Seconds from the victim's triggering event to the episode's first event.
_DELAYS_S = {STOLEN_CARD: (5, 600), PURCHASE_BURST: (1, 30), CLICK_FLOOD: (1, 60),
             IMPOSSIBLE_TRAVEL: (30, 300), ACCOUNT_TAKEOVER: (60, 600)}  # fmt: skip


class History:
    """What the stream has shown of one user's own (normal) behaviour."""

    __slots__ = ("since_episode", "purchases", "devices", "countries", "device", "country", "busy_until", "planned")

    def __init__(self) -> None:
        self.since_episode = 0
        self.purchases: list[Decimal] = []
        self.devices: set[Device] = set()
        self.countries: set[str] = set()
        self.device: Device | None = None
        self.country: str | None = None
        self.busy_until: datetime | None = None
        self.planned = False  # an episode is scheduled but not built yet

    def observe(self, event: UserEvent) -> None:
        self.since_episode += 1
        if event.event_type is EventType.PURCHASE:
            self.purchases.append(event.value)
        self.devices.add(event.device)
        self.countries.add(event.country)
        self.device, self.country = event.device, event.country

    def median_purchase(self, default: float) -> float:
        return float(statistics.median(self.purchases)) if self.purchases else default


class Episodes:
    """Builds the events of one episode of each kind for a victim, at a start time."""

    def __init__(self, rng: random.Random, sent_at_share: float, country_shares: Sequence[tuple[str, float]],
                 devices: Sequence[Device], purchase_median: float, tempo: float) -> None:  # fmt: skip
        self.rng, self.sent_at_share, self.tempo = rng, sent_at_share, tempo
        self.countries = tuple(c for c, _ in country_shares)
        self.country_weights = tuple(w for _, w in country_shares)
        self.devices, self.purchase_median = tuple(devices), purchase_median

    def size(self, kind: str) -> int:
        """How many events an episode of `kind` will hold (drawn when it is planned)."""
        return self.rng.randint(*_SIZES[kind])

    def delay(self, kind: str) -> timedelta:
        """From the victim's triggering event to the episode's first event."""
        return self._seconds(self.rng.uniform(*_DELAYS_S[kind]))

    def eligible(self, kind: str, history: History, at: datetime) -> bool:
        """Whether the user has the history an episode of `kind` needs, and none under way at `at`."""
        if history.planned or history.since_episode < MIN_HISTORY or history.country is None:
            return False
        if history.busy_until is not None and at <= history.busy_until:
            return False
        if kind == STOLEN_CARD:
            return len(history.purchases) >= MIN_PURCHASES
        if kind == IMPOSSIBLE_TRAVEL:
            return bool(self._far_from(history.country)[0])
        if kind == ACCOUNT_TAKEOVER:
            return bool(self._unseen_devices(history)) and bool(self._unseen_countries(history)[0])
        return True

    def build(self, kind: str, user: str, history: History, start: datetime, size: int) -> list[UserEvent]:
        """The episode's events, time-ordered from `start`; [] if the victim no longer fits."""
        history.planned = False
        if not self.eligible(kind, history, start):  # e.g. the user has since used every device
            return []
        events = getattr(self, f"_{kind}")(user, history, start, size)
        history.since_episode, history.busy_until = 0, events[-1].timestamp
        return events

    # -- the kinds -------------------------------------------------------------------------

    def _stolen_card(self, user: str, h: History, start: datetime, size: int) -> list[UserEvent]:
        factor = self.rng.uniform(20.0, 100.0)
        value = Decimal(math.ceil(h.median_purchase(self.purchase_median) * factor * 100)).scaleb(-2)
        return [self._purchase(user, self._uuid(), start, h.device, h.country, value)]

    def _purchase_burst(self, user: str, h: History, start: datetime, size: int) -> list[UserEvent]:
        session, median = self._uuid(), h.median_purchase(self.purchase_median)
        times = self._spread(start, size, self.rng.uniform(15.0, 60.0))
        return [self._purchase(user, session, t, h.device, h.country, tables.purchase_value(self.rng, median, 0.6))
                for t in times]  # fmt: skip

    def _click_flood(self, user: str, h: History, start: datetime, size: int) -> list[UserEvent]:
        session, page = self._uuid(), tables.page(self.rng)
        targets = self.rng.sample(tables.CLICK_ELEMENTS, 2)  # a script hammering one or two buttons
        times = [start]
        for _ in range(size - 1):
            times.append(times[-1] + self._seconds(self.rng.uniform(0.015, 0.09)))  # ~50 ms apart
        data = [{"page": page, "element": targets[self.rng.random() < 0.2]} for _ in times]
        return [self._event(ClickEvent, EventType.CLICK, user, session, t, h.device, h.country, data=d)
                for t, d in zip(times, data, strict=True)]  # fmt: skip

    def _impossible_travel(self, user: str, h: History, start: datetime, size: int) -> list[UserEvent]:
        far, weights = self._far_from(h.country)
        country = tables.pick(self.rng, far, list(accumulate(weights)))
        return self._foreign_session(user, start, size, h.device, country, purchase_value=None)

    def _account_takeover(self, user: str, h: History, start: datetime, size: int) -> list[UserEvent]:
        device = self.rng.choice(self._unseen_devices(h))
        countries, weights = self._unseen_countries(h)
        country = tables.pick(self.rng, countries, list(accumulate(weights)))
        value = h.median_purchase(self.purchase_median) * self.rng.uniform(2.0, 10.0)
        return self._foreign_session(user, start, size, device, country, purchase_value=value)

    # -- helpers ---------------------------------------------------------------------------

    def _foreign_session(self, user: str, start: datetime, size: int, device: Device, country: str,
                         purchase_value: float | None) -> list[UserEvent]:  # fmt: skip
        """A login, a page or two, and (for a takeover) a purchase within a minute of the login."""
        session, span = self._uuid(), self.rng.uniform(10.0, 55.0)
        times = self._spread(start, size, span)
        events: list[UserEvent] = [self._event(LoginEvent, EventType.LOGIN, user, session, start, device, country)]
        for t in times[1:]:
            if purchase_value is not None and t == times[-1]:
                value = Decimal(round(max(purchase_value, tables.MIN_VALUE) * 100)).scaleb(-2)
                events.append(self._purchase(user, session, t, device, country, value))
            else:
                data = {"page": tables.page(self.rng)}
                events.append(self._event(PageViewEvent, EventType.PAGE_VIEW, user, session, t, device, country,
                                          data=data))  # fmt: skip
        return events

    def _purchase(self, user: str, session: uuid.UUID, at: datetime, device: Device | None, country: str | None,
                  value: Decimal) -> UserEvent:  # fmt: skip
        data = tables.purchase_data(self.rng, tables.CURRENCY_OF.get(country or "", "USD"))
        return self._event(
            PurchaseEvent, EventType.PURCHASE, user, session, at, device, country, value=value, data=data
        )

    def _event(self, cls: type, kind: EventType, user: str, session: uuid.UUID, at: datetime, device: Device | None,
               country: str | None, **fields: Any) -> UserEvent:  # fmt: skip
        if self.rng.random() < self.sent_at_share:
            fields["sent_at"] = at + timedelta(milliseconds=min(self.rng.expovariate(1 / 50), 5_000.0))
        return cls(event_id=self._uuid(), user_id=user, session_id=session, timestamp=at, device=device,
                   country=country, event_type=kind, **fields)  # fmt: skip

    def _spread(self, start: datetime, size: int, span_s: float) -> list[datetime]:
        """`size` distinct, sorted times: `start`, then the rest at random within `span_s` (scaled)."""
        offsets = sorted(self.rng.uniform(0.0, span_s) for _ in range(size - 1))
        times = [start]
        for offset in offsets:
            times.append(max(start + self._seconds(offset), times[-1] + timedelta(microseconds=1)))
        return times

    def _seconds(self, seconds: float) -> timedelta:
        return timedelta(microseconds=max(1, round(seconds * self.tempo * 1e6)))

    def _far_from(self, country: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """Countries on another continent (by time-zone region): no one travels there in minutes."""
        region = _region(country)
        pairs = [(c, w) for c, w in zip(self.countries, self.country_weights, strict=True)
                 if w > 0 and _region(c) != region]  # fmt: skip
        return (tuple(c for c, _ in pairs), tuple(w for _, w in pairs)) if pairs else ((), ())

    def _unseen_devices(self, h: History) -> list[Device]:
        return [d for d in self.devices if d not in h.devices]

    def _unseen_countries(self, h: History) -> tuple[tuple[str, ...], tuple[float, ...]]:
        pairs = [(c, w) for c, w in zip(self.countries, self.country_weights, strict=True)
                 if w > 0 and c not in h.countries]  # fmt: skip
        return (tuple(c for c, _ in pairs), tuple(w for _, w in pairs)) if pairs else ((), ())

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def _region(country: str) -> str:
    return COUNTRY_ZONE.get(country, "?/").split("/")[0]
