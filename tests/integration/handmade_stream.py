"""A labelled event stream built without the platform's generator, the way a user would test it.

Plain simulation with its own assumptions, so detectors are not graded on the traffic they
were tuned on: users with a home country and one or two devices browse, search and buy now
and then; about 1% of events are anomalies of four kinds, each labelled:

* `stolen_card`: a purchase of 30-120x the user's usual amount, often on a new device;
* `click_flood`: a user's 15-40 clicks within a few seconds;
* `country_hop`: a login and a purchase from a far country minutes after a home event;
* `purchase_burst`: 5-9 purchases within half a minute.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

HOME_COUNTRIES = ["US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "ES", "IT"]
FAR_COUNTRIES = ["NG", "RU", "VN", "ID", "PH", "UA", "KZ", "PE"]
DEVICES = ["mobile", "desktop", "tablet"]
PAGES = ["/", "/search", "/product/1", "/product/2", "/cart", "/help"]


@dataclass
class _User:
    user_id: str
    country: str
    devices: list[str]
    typical_spend: float
    session: str
    last_at: datetime


@dataclass(frozen=True)
class LabelledRecord:
    doc: dict
    anomalous: bool
    kind: str

    @property
    def line(self) -> str:
        return json.dumps(self.doc)


class HandmadeStream:
    """Stateful, so a second call continues the same users later in time."""

    def __init__(self, *, users: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = start
        self.users = [
            _User(
                f"hm_{i:04d}",
                self.rng.choice(HOME_COUNTRIES),
                self.rng.sample(DEVICES, self.rng.choice([1, 1, 2])),
                round(self.rng.lognormvariate(3.3, 0.5), 2),
                str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                start,
            )
            for i in range(users)
        ]

    def take(self, count: int, *, anomaly_rate: float = 0.01, per_second: float = 4.0) -> list[LabelledRecord]:
        out: list[LabelledRecord] = []
        while len(out) < count:
            self.now += timedelta(seconds=self.rng.expovariate(per_second))
            if self.rng.random() < anomaly_rate / 12:  # episodes average ~12 events
                out += self._episode(self.rng.choice(self.users))
            else:
                out.append(self._normal(self.rng.choice(self.users)))
        return out[:count]

    # --- normal traffic ----------------------------------------------------------------------

    def _normal(self, user: _User) -> LabelledRecord:
        if (self.now - user.last_at) > timedelta(minutes=30):
            user.session = self._uuid()
        kind = self.rng.choices(
            ["page_view", "click", "search", "video_watch", "purchase", "login"], [50, 22, 10, 8, 4, 6]
        )[0]
        value = round(user.typical_spend * self.rng.uniform(0.5, 1.6), 2) if kind == "purchase" else None
        return LabelledRecord(self._doc(user, kind, self.now, value=value), False, "")

    # --- anomalies ---------------------------------------------------------------------------

    def _episode(self, user: _User) -> list[LabelledRecord]:
        kind = self.rng.choice(["stolen_card", "click_flood", "country_hop", "purchase_burst"])
        at = self.now
        records = []
        normal = 0  # leading records of the episode that are ordinary events
        if kind == "stolen_card":
            device = self.rng.choice([d for d in DEVICES if d not in user.devices] or DEVICES)
            value = round(user.typical_spend * self.rng.uniform(30, 120), 2)
            records.append(self._doc(user, "purchase", at, value=value, device=device))
        elif kind == "click_flood":
            for _ in range(self.rng.randint(15, 40)):
                at += timedelta(milliseconds=self.rng.randint(50, 300))
                records.append(self._doc(user, "click", at))
        elif kind == "country_hop":
            far = self.rng.choice(FAR_COUNTRIES)
            records.append(self._doc(user, "page_view", at))  # at home, as usual
            normal = 1
            at += timedelta(minutes=self.rng.uniform(1, 5))
            records.append(self._doc(user, "login", at, country=far, device="desktop"))
            at += timedelta(seconds=self.rng.uniform(10, 60))
            records.append(self._doc(user, "purchase", at, country=far, device="desktop", value=user.typical_spend * 8))
        else:
            for _ in range(self.rng.randint(5, 9)):
                at += timedelta(seconds=self.rng.uniform(1, 5))
                records.append(self._doc(user, "purchase", at, value=user.typical_spend * self.rng.uniform(1, 3)))
        self.now = max(self.now, at)
        return [LabelledRecord(doc, i >= normal, kind if i >= normal else "") for i, doc in enumerate(records)]

    # --- wire documents ----------------------------------------------------------------------

    def _doc(
        self,
        user: _User,
        kind: str,
        at: datetime,
        *,
        value: float | None = None,
        country: str | None = None,
        device: str | None = None,
    ) -> dict:
        user.last_at = max(user.last_at, at)
        data = {
            "page_view": {"page": self.rng.choice(PAGES)},
            "click": {"page": self.rng.choice(PAGES), "element": "button"},
            "search": {"query": "q", "results_count": self.rng.randint(0, 50)},
            "video_watch": {"video_id": "v", "watch_seconds": round(self.rng.uniform(1, 600), 1)},
            "purchase": {"product_id": "p", "quantity": 1, "currency": "USD"},
            "login": {},
        }[kind]
        doc = {
            "event_id": self._uuid(),
            "user_id": user.user_id,
            "session_id": user.session,
            "event_type": kind,
            "timestamp": at.isoformat(),
            "device": device or self.rng.choice(user.devices),
            "country": country or user.country,
            "data": data,
        }
        if value is not None:
            doc["value"] = f"{value:.2f}"
        return doc

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
