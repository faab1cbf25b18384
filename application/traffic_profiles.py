"""What the mock traffic is made of: shares, catalogs, and draws of event payloads.

Kept apart from `application.traffic`, which simulates users, sessions and time.
Shares are relative weights (they need not sum to 100); the figures are rough
public web-traffic orders of magnitude, chosen to look plausible on a dashboard,
not to be exact. Every draw takes the caller's `random.Random`: nothing here is global.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Sequence
from decimal import Decimal
from itertools import accumulate
from typing import Any, TypeVar

from domain.events import Device, EventType

T = TypeVar("T")

# (country, share of users in %, currency of its purchases). The top 13 hold ~82%.
COUNTRIES: tuple[tuple[str, float, str], ...] = (
    ("US", 30.0, "USD"), ("IN", 9.0, "INR"), ("GB", 7.0, "GBP"), ("DE", 6.0, "EUR"),
    ("BR", 5.0, "BRL"), ("FR", 4.5, "EUR"), ("CA", 4.0, "CAD"), ("JP", 3.5, "JPY"),
    ("ES", 3.0, "EUR"), ("IT", 3.0, "EUR"), ("AU", 2.5, "AUD"), ("MX", 2.5, "MXN"),
    ("NL", 2.0, "EUR"), ("KR", 1.2, "KRW"), ("PL", 1.0, "PLN"), ("SE", 0.9, "SEK"),
    ("TR", 0.9, "TRY"), ("ID", 1.0, "IDR"), ("PH", 0.8, "PHP"), ("NG", 0.6, "NGN"),
    ("ZA", 0.6, "ZAR"), ("AR", 0.6, "ARS"), ("CO", 0.5, "COP"), ("BE", 0.6, "EUR"),
    ("CH", 0.6, "CHF"), ("IE", 0.5, "EUR"), ("PT", 0.5, "EUR"), ("SG", 0.5, "SGD"),
    ("NZ", 0.4, "NZD"), ("AT", 0.5, "EUR"), ("DK", 0.4, "DKK"), ("NO", 0.4, "NOK"),
    ("FI", 0.3, "EUR"), ("CL", 0.4, "CLP"), ("AE", 0.4, "AED"), ("IL", 0.4, "ILS"),
    ("MY", 0.4, "MYR"), ("TH", 0.4, "THB"), ("VN", 0.4, "VND"), ("EG", 0.3, "EGP"),
)  # fmt: skip

COUNTRY_SHARES: tuple[tuple[str, float], ...] = tuple((c, s) for c, s, _ in COUNTRIES)
CURRENCY_OF: dict[str, str] = {country: currency for country, _, currency in COUNTRIES}

DEVICE_SHARES: tuple[tuple[Device, float], ...] = (
    (Device.MOBILE, 58.0), (Device.DESKTOP, 33.0), (Device.TABLET, 6.0),
    (Device.TV, 2.0), (Device.OTHER, 1.0),
)  # fmt: skip

# The funnel as a Markov chain over in-session events: weights of the next event
# given the last one (order of BODY_EVENTS). Tuned so that, with the forced landing
# page_view, login/signup openers and logout closers, a stream comes out near
# page_view 40%, click 25%, search 12%, video_watch 10%, purchase 4%.
BODY_EVENTS: tuple[EventType, ...] = (
    EventType.PAGE_VIEW, EventType.CLICK, EventType.SEARCH, EventType.VIDEO_WATCH,
    EventType.PURCHASE,
)  # fmt: skip
TRANSITIONS: dict[EventType, tuple[float, ...]] = {
    EventType.PAGE_VIEW: (20.0, 42.0, 22.0, 13.0, 3.5),
    EventType.CLICK: (40.0, 16.0, 12.0, 22.0, 11.5),
    EventType.SEARCH: (32.0, 48.0, 8.0, 12.0, 0.0),
    EventType.VIDEO_WATCH: (45.0, 20.0, 12.0, 15.0, 9.0),
    EventType.PURCHASE: (70.0, 20.0, 10.0, 0.0, 0.0),
}
# The purchase column above gives this share of all events. Scaling the column by b
# gives about CALIBRATED * b / (1 + SATURATION * (b - 1)): purchases displace other
# events (fitted on 50k-event runs); `purchase_boost` inverts that.
CALIBRATED_PURCHASE_SHARE = 0.04
PURCHASE_SATURATION = 0.125
MAX_PURCHASE_SHARE = 0.25

PAGES: tuple[str, ...] = (
    "/", "/home", "/search", "/videos", "/videos/trending", "/products", "/products/new",
    "/deals", "/cart", "/checkout", "/account", "/pricing", "/help", "/blog",
)  # fmt: skip
PAGE_WEIGHTS: tuple[float, ...] = (14, 12, 9, 9, 5, 10, 4, 5, 6, 3, 3, 2, 2, 2)

# Where a session's landing page came from; None is direct traffic (no referrer).
EXTERNAL_REFERRERS: tuple[str | None, ...] = (
    None, "https://www.google.com/", "https://www.facebook.com/", "https://t.co/",
    "https://www.bing.com/", "https://www.reddit.com/", "https://news.ycombinator.com/",
)  # fmt: skip
REFERRER_WEIGHTS: tuple[float, ...] = (35, 40, 9, 5, 4, 4, 3)

CLICK_ELEMENTS: tuple[str, ...] = (
    "nav_home", "nav_search", "product_card", "video_thumbnail", "add_to_cart",
    "buy_now", "banner", "play_button", "share_button", "footer_link", "login_button",
)  # fmt: skip

SEARCH_TERMS: tuple[str, ...] = (
    "shoes", "running", "headphones", "wireless", "laptop", "phone", "case", "jacket",
    "winter", "camera", "4k", "tv", "coffee", "maker", "yoga", "mat", "gift", "kids",
    "watch", "smart", "backpack", "travel", "desk", "chair", "gaming", "mouse", "book",
    "cooking", "tutorial", "music", "live", "review", "cheap", "best", "2024", "sale",
)  # fmt: skip

PRODUCT_CATALOG = 5_000  # product ids prod_00001..; popularity is Zipf-like
VIDEO_CATALOG = 2_000  # video ids vid_00001..
MIN_VALUE, MAX_VALUE = 0.50, 5_000.0  # purchase value bounds; the lognormal tail is cut

_PAGE_CUM = list(accumulate(PAGE_WEIGHTS))
_REFERRER_CUM = list(accumulate(REFERRER_WEIGHTS))


def purchase_boost(share: float) -> float:
    """The factor on the purchase column of TRANSITIONS that yields `share` of events."""
    c = PURCHASE_SATURATION
    return share * (1 - c) / (CALIBRATED_PURCHASE_SHARE - share * c)


def pick(rng: random.Random, items: Sequence[T], cum_weights: Sequence[float]) -> T:
    """One of `items` by cumulative weight; like `rng.choices(...)[0]`, only cheaper."""
    # hi: a draw that rounds up to the total must still land on the last item.
    return items[bisect(cum_weights, rng.random() * cum_weights[-1], 0, len(items) - 1)]


def zipf_rank(rng: random.Random, n: int) -> int:
    """A rank in [1, n) with P(rank) ~ 1/rank: exp of a uniform draw on [0, log n)."""
    return int(n ** rng.random())


def page(rng: random.Random) -> str:
    """A page path; a share of views land on Zipf-popular product and video pages."""
    draw = rng.random()
    if draw < 0.25:
        return f"/products/prod_{zipf_rank(rng, PRODUCT_CATALOG):05d}"
    if draw < 0.40:
        return f"/watch/vid_{zipf_rank(rng, VIDEO_CATALOG):05d}"
    return pick(rng, PAGES, _PAGE_CUM)


def external_referrer(rng: random.Random) -> str | None:
    """Where a session's landing page came from; None for direct traffic."""
    return pick(rng, EXTERNAL_REFERRERS, _REFERRER_CUM)


def search_data(rng: random.Random) -> dict[str, Any]:
    """1-3 search terms; some searches find nothing, most find a few dozen."""
    words = rng.sample(SEARCH_TERMS, 1 + int(rng.random() ** 2 * 3))
    found = 0 if rng.random() < 0.08 else int(rng.lognormvariate(3.7, 1.2))
    return {"query": " ".join(words), "results_count": found}


def video_data(rng: random.Random) -> dict[str, Any]:
    """A Zipf-popular video, watched for about 45 s typically, at most two hours."""
    seconds = round(min(rng.lognormvariate(3.8, 1.2), 7200.0), 1)
    return {"video_id": f"vid_{zipf_rank(rng, VIDEO_CATALOG):05d}", "watch_seconds": seconds}


def purchase_data(rng: random.Random, currency: str) -> dict[str, Any]:
    """A Zipf-popular product; four orders in five are for a single item."""
    quantity = 1 if rng.random() < 0.8 else 2 + int(rng.expovariate(0.7))
    product = f"prod_{zipf_rank(rng, PRODUCT_CATALOG):05d}"
    return {"product_id": product, "quantity": quantity, "currency": currency}


def purchase_value(rng: random.Random, median: float, sigma: float) -> Decimal:
    """An order total: lognormal around `median`, cut to [0.50, 5000], in cents."""
    value = rng.lognormvariate(math.log(median), sigma)
    cents = round(min(max(value, MIN_VALUE), MAX_VALUE) * 100)
    return Decimal(cents).scaleb(-2)  # keeps two places: 3500 -> 35.00
