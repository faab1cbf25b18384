"""Labelled mock traffic: normal events, injected anomalous episodes, and users who churn.

For scoring detectors: each event says whether it belongs to an anomalous episode and
of which kind, and the users who churn are known before the stream is read. Pure and
seeded like `application.traffic`: the same arguments give the same events.

- Anomalies are short episodes on existing users with enough normal history, started
  "now" in stream time right after one of the victim's own events (see
  `application.traffic_episodes`): a stolen card (one purchase 20-100x the user's median),
  a purchase burst (5-15 purchases within a minute), a click flood (30-100 clicks within
  a few seconds), impossible travel (a session from another continent minutes after the
  user's last event at home, on the same device) and an account takeover (a login on a
  never-seen device in a never-seen country, then a purchase within a minute).
- Churners are drawn among users active in the first quarter of the stream; from 30-50%
  of the stream their sessions thin out, and after 38-65% they produce nothing.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from application.traffic import TrafficProfile, generate_events
from application.traffic_episodes import (
    ACCOUNT_TAKEOVER,
    CLICK_FLOOD,
    IMPOSSIBLE_TRAVEL,
    KIND_WEIGHTS,
    PURCHASE_BURST,
    STOLEN_CARD,
    Episodes,
    History,
)  # fmt: skip
from domain.events import Device, UserEvent

ANOMALY_KINDS: tuple[str, ...] = (STOLEN_CARD, PURCHASE_BURST, CLICK_FLOOD, IMPOSSIBLE_TRAVEL, ACCOUNT_TAKEOVER)
MAX_ANOMALY_RATE = 0.2  # anomalies need a majority of normal history to stand out from
_TRIGGER = 0.25  # chance that an eligible victim's event starts the wanted episode
_PATIENCE = 5_000  # normal events to wait for a victim of the wanted kind before drawing another
_ENDLESS = 1 << 62  # the base stream is read lazily: churners' dropped events are replaced
_SESSION_GAP_S = 10.0  # normal in-session gap that episode time scales are sized for


@dataclass(frozen=True)
class LabelledEvent:
    event: UserEvent
    anomaly: str | None = None  # None: normal traffic; else one of ANOMALY_KINDS


@dataclass(frozen=True)
class LabelledTraffic:
    """The labelled stream (read once, lazily) and the churn ground truth, known up front."""

    events: Iterator[LabelledEvent]
    churned_users: frozenset[str]

    def __iter__(self) -> Iterator[LabelledEvent]:
        return self.events


def generate_labelled(
    count: int,
    *,
    seed: int,
    start: datetime,
    rate: float = 1000.0,
    anomaly_rate: float = 0.01,
    churn_share: float = 0.2,
    profile: TrafficProfile = TrafficProfile(),
) -> LabelledTraffic:
    """`count` time-ordered events like `generate_events`, about `anomaly_rate` of them anomalous.

    `churn_share` is the share of the users active early (2+ events in the first quarter)
    who churn. Episode time scales assume sessions with ~10 s between events; at faster
    simulated rates (`rate` above a tenth of the concurrent sessions) they shrink with it.
    """
    if not 0.0 <= anomaly_rate <= MAX_ANOMALY_RATE:
        raise ValueError(f"anomaly_rate must lie in [0, {MAX_ANOMALY_RATE}]")
    if not 0.0 <= churn_share <= 1.0:
        raise ValueError("churn_share must lie in [0, 1]")
    profile = replace(profile, users=profile.user_count(count))  # fixed: the base stream is endless
    rng = random.Random(seed)
    base_seed = rng.getrandbits(64)
    base = generate_events(_ENDLESS, seed=base_seed, start=start, rate=rate, profile=profile)  # checks the rest
    early = itertools.islice(generate_events(_ENDLESS, seed=base_seed, start=start, rate=rate, profile=profile),
                             count // 4)  # fmt: skip
    churn = _Churn.draw(rng, count, churn_share, early)
    slots = min(profile.concurrent_sessions, max(1, (profile.users or 1) // 8))  # as application.traffic
    episodes = Episodes(rng, profile.sent_at_share, profile.country_shares,
                        [Device(d) for d, _ in profile.device_shares], profile.purchase_median,
                        tempo=min(1.0, slots / rate / _SESSION_GAP_S))  # fmt: skip
    return LabelledTraffic(_stream(count, rng, base, churn, episodes, anomaly_rate), churn.users)


class _Churn:
    """Who churns, and whether each of their events still happens."""

    def __init__(self, rng: random.Random, windows: dict[str, tuple[int, int]]) -> None:
        self.rng, self.windows = rng, windows
        self.users = frozenset(windows)
        self.sessions: set[object] = set()
        self.dropped: set[object] = set()

    @classmethod
    def draw(cls, rng: random.Random, count: int, share: float, early: Iterable[UserEvent]) -> _Churn:
        seen = Counter(e.user_id for e in early)
        active = [user for user, n in seen.items() if n >= 2]  # first-appearance order
        churners = rng.sample(active, round(share * len(active)))
        windows = {}
        for user in churners:  # from `fade` on, sessions thin out; from `gone` on, nothing
            fade = round(count * rng.uniform(0.30, 0.50))
            windows[user] = (fade, fade + round(count * rng.uniform(0.08, 0.15)))
        return cls(rng, windows)

    def keeps(self, event: UserEvent, position: int) -> bool:
        window = self.windows.get(event.user_id)
        if window is None:
            return True
        fade, gone = window
        if position >= gone or event.session_id in self.dropped:
            return False  # open sessions end abruptly: the user just stops
        if event.session_id not in self.sessions:  # a new session: the fewer, the later
            self.sessions.add(event.session_id)
            if position >= fade and self.rng.random() >= (gone - position) / (gone - fade):
                self.dropped.add(event.session_id)
                return False
        return True


@dataclass(frozen=True)
class _Plan:
    user: str
    size: int


def _stream(count: int, rng: random.Random, base: Iterator[UserEvent], churn: _Churn, episodes: Episodes,
            anomaly_rate: float) -> Iterator[LabelledEvent]:  # fmt: skip
    # Pending episode events (and plans, built when their start comes up), by time.
    pending: list[tuple[datetime, int, str, UserEvent | _Plan]] = []
    order = itertools.count()
    histories: dict[str, History] = defaultdict(History)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    reserved = planned = waited = emitted = 0  # reserved: planned anomalous events not yet out
    wanted: str | None = None
    upcoming = next(base)
    while emitted < count:
        # Pending events go out in time order; at the very end they take the last slots.
        if pending and (reserved >= count - emitted or pending[0][0] <= upcoming.timestamp):
            at, _, kind, item = heapq.heappop(pending)
            if isinstance(item, _Plan):
                built = episodes.build(kind, item.user, histories[item.user], at, item.size)
                reserved, planned = reserved - item.size + len(built), planned - item.size + len(built)
                for event in built:
                    heapq.heappush(pending, (event.timestamp, next(order), kind, event))
                continue
            reserved, emitted = reserved - 1, emitted + 1
            yield LabelledEvent(item, kind)
            continue
        event, upcoming = upcoming, next(base)
        if not churn.keeps(event, emitted):
            continue
        emitted += 1
        history = histories[event.user_id]
        history.observe(event)
        yield LabelledEvent(event)
        if planned >= anomaly_rate * emitted:
            continue
        if wanted is None or waited >= _PATIENCE:  # a kind no one qualifies for must not stall the rest
            wanted, waited = rng.choices(kinds, weights)[0], 0
        waited += 1
        if (event.user_id in churn.users or not episodes.eligible(wanted, history, event.timestamp)
                or rng.random() >= _TRIGGER):  # fmt: skip
            continue
        size = episodes.size(wanted)
        if reserved + size <= count - emitted:
            history.planned = True
            heapq.heappush(pending, (event.timestamp + episodes.delay(wanted), next(order), wanted,
                                     _Plan(event.user_id, size)))  # fmt: skip
            reserved, planned, wanted = reserved + size, planned + size, None
