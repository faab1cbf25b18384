"""Anomaly reasons: readable, rule-based, most severe first, one per story."""

from __future__ import annotations

import pytest

from domain.anomaly_reasons import reasons
from domain.features import FEATURE_NAMES, SECONDS_CAP, Features


def vector(**values: float) -> Features:
    """An unremarkable event's features, with some set."""
    quiet = dict.fromkeys(FEATURE_NAMES, 0.0) | {
        "events_last_1m": 1.0,
        "events_last_1h": 1.0,
        "countries_last_10m": 1.0,
        "seconds_since_previous": 60.0,
        "seconds_since_country_change": SECONDS_CAP,
        "session_events_per_minute": 1.0,
    }
    return tuple((quiet | values)[name] for name in FEATURE_NAMES)


def test_an_unremarkable_event_has_no_reasons():
    assert reasons(vector()) == []
    assert reasons(vector(new_device=0, amount_to_median=4.9, clicks_last_10s=19, countries_last_10m=2)) == []


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ({"amount_to_median": 38.2, "is_purchase": 1}, "purchase 38x this user's median"),
        ({"amount_to_median": 5.5, "is_purchase": 1}, "purchase 5.5x this user's median"),
        ({"amount_to_median": 6.0, "is_purchase": 1}, "purchase 6x this user's median"),
        ({"amount_zscore": 6.24, "amount_to_median": 2.0}, "purchase 6.2 standard deviations above this user's mean"),
        ({"amount_zscore": 100.0, "amount_to_median": 3.0}, "purchase 100+ standard deviations above this user's mean"),
        ({"countries_last_10m": 7}, "7 countries in 10 minutes"),
        ({"country_changed": 1, "seconds_since_country_change": 45}, "switched country within 45 seconds"),
        ({"country_changed": 1, "seconds_since_country_change": 0.1}, "switched country within less than a second"),
        ({"country_changed": 1, "seconds_since_country_change": 600}, "switched country within 10 minutes"),
        ({"clicks_last_10s": 45, "events_last_1m": 45}, "45 clicks in 10 seconds"),
        ({"purchases_last_1m": 12}, "12 purchases in 1 minute"),
        ({"events_last_1m": 120}, "120 events in 1 minute"),
        ({"events_last_1h": 1500}, "1500 events in 1 hour"),
        ({"session_events_per_minute": 40.4}, "40 events per minute in this session"),
        ({"new_device": 1, "new_country": 1}, "new device and new country"),
        ({"new_device": 1}, "new device"),
        ({"new_country": 1, "is_login": 1}, "login from a new country"),
        ({"new_device": 1, "new_country": 1, "is_login": 1}, "login from a new device and new country"),
    ],
)
def test_reason_texts(values, text):
    assert reasons(vector(**values)) == [text]


def test_a_slow_country_change_is_no_reason():
    assert reasons(vector(country_changed=1, seconds_since_country_change=901)) == []
    assert reasons(vector(country_changed=0, seconds_since_country_change=5)) == []  # no switch at this event


def test_reasons_are_ordered_by_severity_limited_and_one_per_topic():
    f = vector(
        amount_to_median=38,
        is_purchase=1,
        countries_last_10m=7,
        clicks_last_10s=45,
        events_last_1m=300,
        new_device=1,
        new_country=1,
        purchases_last_1m=6,
    )
    assert reasons(f, limit=10) == [
        "purchase 38x this user's median",  # 7.6 past its threshold
        "300 events in 1 minute",  # 5.0, and beats 45 clicks (2.25) in its topic
        "7 countries in 10 minutes",  # 2.33
        "new device and new country",  # 1.5
        "6 purchases in 1 minute",  # 1.2
    ]
    assert reasons(f) == reasons(f, limit=10)[:3]
    assert reasons(f, limit=0) == []


def test_reasons_reject_a_vector_of_the_wrong_length():
    with pytest.raises(ValueError, match="expected"):
        reasons((1.0, 2.0))


def test_a_fast_country_switch_ranks_on_a_log_scale_in_its_own_topic():
    f = vector(countries_last_10m=7, country_changed=1, seconds_since_country_change=45, amount_to_median=38)
    assert reasons(f) == [
        "purchase 38x this user's median",  # 7.6
        "7 countries in 10 minutes",  # 2.33
        "switched country within 45 seconds",  # 1 + log10(900 / 45) = 2.30
    ]
