"""Human-readable reasons for an anomalous event, from its features (`domain.features`)."""

from __future__ import annotations

from math import log10

from domain.features import FEATURE_NAMES, MAX_ZSCORE, Features

# How reasons are chosen:
#
# Rule-based, so a reader can check a reason against the numbers. A rule fires when its
# feature passes the threshold below; its severity is how far past, value / threshold
# (at most 10), except that a country switch, whose seconds shrink to 0 rather than grow,
# counts 1 + log10(threshold / seconds): 2.3 for 45 s, 4 for 1 s. A new device or country
# counts 1.5 together, 1 alone. Rules share a topic when they tell the same story (45 clicks
# in 10 s is also 300 events in a minute): each topic gives its most severe reason, then
# reasons are ordered by severity, ties in rule order.

AMOUNT_RATIO_AT_LEAST = 5.0  # "purchase 38x this user's median"
AMOUNT_ZSCORE_AT_LEAST = 4.0  # "purchase 6.2 standard deviations above this user's mean", if not the above
COUNTRIES_AT_LEAST = 3  # "7 countries in 10 minutes"
COUNTRY_SWITCH_WITHIN = 900.0  # seconds: "switched country within 45 seconds"
CLICKS_AT_LEAST = 20  # "45 clicks in 10 seconds"
PURCHASES_AT_LEAST = 5  # "12 purchases in 1 minute"
EVENTS_PER_MINUTE_AT_LEAST = 60  # "120 events in 1 minute"
EVENTS_PER_HOUR_AT_LEAST = 1_200  # "1500 events in 1 hour"
SESSION_RATE_AT_LEAST = 30.0  # "40 events per minute in this session"
_MAX_SEVERITY = 10.0


def reasons(features: Features, *, limit: int = 3) -> list[str]:
    """Human-readable explanations of the most unusual feature values, most severe first."""
    if len(features) != len(FEATURE_NAMES):
        raise ValueError(f"expected {len(FEATURE_NAMES)} features, got {len(features)}")
    f = dict(zip(FEATURE_NAMES, features, strict=True))
    found: list[tuple[str, float, str]] = []  # (topic, severity, text) in rule order

    def above(topic: str, value: float, threshold: float, text: str) -> None:
        if value >= threshold:
            found.append((topic, value / threshold, text))

    ratio, z = f["amount_to_median"], f["amount_zscore"]
    above("amount", ratio, AMOUNT_RATIO_AT_LEAST, f"purchase {_times(ratio)}x this user's median")
    if ratio < AMOUNT_RATIO_AT_LEAST:  # "38x the median" reads better than 100 standard deviations
        sds = f"{z:.1f}" if z < MAX_ZSCORE else f"{MAX_ZSCORE:.0f}+"
        above("amount", z, AMOUNT_ZSCORE_AT_LEAST, f"purchase {sds} standard deviations above this user's mean")
    countries = int(f["countries_last_10m"])
    above("countries", countries, COUNTRIES_AT_LEAST, f"{countries} countries in 10 minutes")
    switch = f["seconds_since_country_change"]
    if f["country_changed"] and switch <= COUNTRY_SWITCH_WITHIN:
        severity = 1 + log10(COUNTRY_SWITCH_WITHIN / max(switch, COUNTRY_SWITCH_WITHIN / 10**9))
        found.append(("switch", severity, f"switched country within {_duration(switch)}"))
    clicks, purchases = int(f["clicks_last_10s"]), int(f["purchases_last_1m"])
    above("velocity", clicks, CLICKS_AT_LEAST, f"{clicks} clicks in 10 seconds")
    above("purchases", purchases, PURCHASES_AT_LEAST, f"{purchases} purchases in 1 minute")
    per_minute, per_hour = int(f["events_last_1m"]), int(f["events_last_1h"])
    above("velocity", per_minute, EVENTS_PER_MINUTE_AT_LEAST, f"{per_minute} events in 1 minute")
    above("velocity", per_hour, EVENTS_PER_HOUR_AT_LEAST, f"{per_hour} events in 1 hour")
    rate = f["session_events_per_minute"]
    above("velocity", rate, SESSION_RATE_AT_LEAST, f"{rate:.0f} events per minute in this session")
    new_device, new_country = f["new_device"] > 0, f["new_country"] > 0
    if new_device or new_country:
        what = " and ".join(w for w, new in (("new device", new_device), ("new country", new_country)) if new)
        text = f"login from a {what}" if f["is_login"] else what
        found.append(("new", 1.5 if new_device and new_country else 1.0, text))

    best: dict[str, tuple[float, int, str]] = {}
    for order, (topic, severity, text) in enumerate(found):
        if topic not in best or severity > best[topic][0]:
            best[topic] = (severity, order, text)
    ranked = sorted(best.values(), key=lambda s: (-min(s[0], _MAX_SEVERITY), s[1]))
    return [text for _, _, text in ranked[: max(limit, 0)]]


def _times(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}".removesuffix(".0")


def _duration(seconds: float) -> str:
    if seconds < 0.5:
        return "less than a second"
    if seconds < 90:
        n, unit = round(seconds), "second"
    elif seconds < 90 * 60:
        n, unit = round(seconds / 60), "minute"
    else:
        n, unit = round(seconds / 3600), "hour"
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"
