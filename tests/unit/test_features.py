"""Scoring features: computed from a user's past only, exact windows, bounded state, readable reasons."""

from __future__ import annotations

import uuid
from datetime import timedelta
from math import cos, log1p, pi, sin

import pytest

from domain.anomaly_reasons import reasons
from domain.event_time import DEFAULT_ALLOWED_LATENESS
from domain.features import (
    FEATURE_NAMES,
    INDEX,
    MAX_AMOUNTS,
    MAX_RECENT,
    SECONDS_CAP,
    UserFeatureState,
    as_dict,
    extract,
    observe,
)
from tests.factories import T0
from tests.unit.feature_streams import US, event, feature, last, purchases, run

# --- names and first events -------------------------------------------------------------------


def test_feature_names_are_unique_and_index_follows_their_order():
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert [INDEX[name] for name in FEATURE_NAMES] == list(range(len(FEATURE_NAMES)))
    features = run([event()])[0]
    assert len(features) == len(FEATURE_NAMES)
    assert all(isinstance(x, float) for x in features)
    assert list(as_dict(features)) == list(FEATURE_NAMES)


def test_a_first_event_counts_only_itself_and_has_nothing_to_compare_with():
    f = as_dict(run([event("page_view", 0)])[0])
    assert (f["events_last_1m"], f["events_last_1h"], f["purchases_last_1m"], f["clicks_last_10s"]) == (1, 1, 0, 0)
    assert f["seconds_since_previous"] == SECONDS_CAP
    assert f["seconds_since_country_change"] == SECONDS_CAP
    assert f["countries_last_10m"] == 1
    assert (f["country_changed"], f["device_changed"], f["new_device"], f["new_country"]) == (0, 0, 0, 0)
    assert (f["amount_log"], f["amount_zscore"], f["amount_to_median"]) == (0, 0, 0)
    assert f["session_events_per_minute"] == 1.0
    assert (f["is_purchase"], f["is_click"], f["is_login"]) == (0, 0, 0)


def test_a_first_purchase_has_its_amount_but_no_history_to_compare_it_with():
    f = as_dict(run([event("purchase", 0, value="19.99")])[0])
    assert f["amount_log"] == pytest.approx(log1p(19.99))
    assert (f["amount_zscore"], f["amount_to_median"]) == (0, 0)
    assert (f["purchases_last_1m"], f["is_purchase"]) == (1, 1)


def test_event_type_flags():
    kinds = ["purchase", "click", "login", "search"]
    features = run([event(kind, i) for i, kind in enumerate(kinds)])
    flags = [(feature(f, "is_purchase"), feature(f, "is_click"), feature(f, "is_login")) for f in features]
    assert flags == [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 0)]


# --- velocity windows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "name", "window"),
    [
        ("page_view", "events_last_1m", timedelta(minutes=1)),
        ("page_view", "events_last_1h", timedelta(hours=1)),
        ("purchase", "purchases_last_1m", timedelta(minutes=1)),
        ("click", "clicks_last_10s", timedelta(seconds=10)),
    ],
)
def test_a_window_includes_an_event_exactly_its_length_before_and_not_a_microsecond_more(kind, name, window):
    assert last([event(kind, when=T0), event(kind, when=T0 + window)], name) == 2
    assert last([event(kind, when=T0), event(kind, when=T0 + window + US)], name) == 1


def test_windows_count_by_kind():
    timed = [event("click", 0), event("purchase", 1), event("click", 2), event("page_view", 3), event("click", 4)]
    f = as_dict(run(timed)[-1])
    assert (f["events_last_1m"], f["clicks_last_10s"], f["purchases_last_1m"]) == (5, 3, 1)


def test_an_earlier_observed_event_stamped_later_has_not_happened_yet_for_this_one():
    f = as_dict(run([event("click", 30), event("click", 10)])[-1])
    assert (f["events_last_1m"], f["events_last_1h"], f["clicks_last_10s"]) == (1, 1, 1)
    assert f["seconds_since_previous"] == 0  # out of order: no negative gaps
    just_after, same_time = (
        [event("click", when=T0 + US), event("click", when=T0)],
        [event("click", 0), event("click", 0)],
    )
    assert (last(just_after, "events_last_1m"), last(just_after, "clicks_last_10s")) == (1, 1)
    assert (last(same_time, "events_last_1m"), last(same_time, "clicks_last_10s")) == (2, 2)


def test_windows_stay_exact_for_an_event_as_late_as_the_allowed_lateness():
    lateness = DEFAULT_ALLOWED_LATENESS.total_seconds()
    timed = [event("click", 100), event("click", 105), event("click", 108 + lateness), event("click", 108)]
    assert last(timed, "clicks_last_10s") == 3  # 100, 105 and itself, though 5 min behind the newest


def test_old_event_times_are_forgotten():
    timed = [event("click", minute * 60) for minute in range(0, 200, 2)]
    state = None
    for e, when in timed:
        _, state = observe(state, e, when)
    newest = state.times[-1]
    span = (timedelta(hours=1) + DEFAULT_ALLOWED_LATENESS) // US
    assert state.times[0] >= newest - span
    assert len(state.times) <= span // (120 * 10**6) + 1
    assert len(state.click_times) <= 3


def test_a_burst_saturates_at_max_recent_event_times():
    timed = [event("page_view", i / 10) for i in range(MAX_RECENT + 50)]
    state = None
    for e, when in timed:
        features, state = observe(state, e, when)
    assert len(state.times) == MAX_RECENT
    assert feature(features, "events_last_1h") == MAX_RECENT + 1
    assert feature(features, "events_last_1m") == 601  # 10 a second, the exact minute still counted


def test_seconds_since_previous_and_its_cap():
    timed = [event("page_view", 0), event("page_view", 2.5), event("page_view", 2.5 + 3 * 86_400)]
    assert [feature(f, "seconds_since_previous") for f in run(timed)] == [SECONDS_CAP, 2.5, SECONDS_CAP]


# --- amounts ------------------------------------------------------------------------------------


def test_amount_zscore_and_ratio_to_median_against_earlier_purchases():
    f = as_dict(run(purchases("10.00", "20.00", "30.00", "300.00"))[-1])
    assert f["amount_to_median"] == pytest.approx(15.0)  # median 20
    assert f["amount_zscore"] == pytest.approx(28.0)  # mean 20, sample sd 10
    assert f["amount_log"] == pytest.approx(log1p(300))


def test_the_median_of_an_even_history_is_the_mean_of_the_middle_two():
    assert last(purchases("10.00", "30.00", "100.00", "1.00", "40.00"), "amount_to_median") == pytest.approx(2.0)


def test_one_earlier_purchase_gives_a_ratio_but_no_zscore():
    f = as_dict(run(purchases("10.00", "25.00"))[-1])
    assert (f["amount_to_median"], f["amount_zscore"]) == (pytest.approx(2.5), 0)


def test_a_constant_history_floors_the_deviation_at_a_tenth_of_the_mean():
    assert last(purchases("10.00", "10.00", "10.00", "11.00"), "amount_zscore") == pytest.approx(1.0)
    assert last(purchases("10.00", "10.00", "10.00", "9.00"), "amount_zscore") == pytest.approx(-1.0)


def test_extreme_amounts_are_capped():
    assert last(purchases("10.00", "10.00", "99999.00"), "amount_zscore") == 100.0
    assert last(purchases("0.00", "0.00", "500.00"), "amount_to_median") == 10_000.0  # free purchases: median 1 cent


def test_only_purchases_build_the_amount_history():
    timed = [
        event("purchase", 0, value="10.00"),
        event("page_view", 10, value="5000.00"),
        event("purchase", 20, value="30.00"),
    ]
    features = run(timed)
    assert feature(features[1], "amount_log") == 0
    assert feature(features[2], "amount_to_median") == pytest.approx(3.0)


def test_the_amount_history_keeps_the_last_purchases_only():
    values = ["1000.00"] * 60 + ["10.00"] * MAX_AMOUNTS + ["100.00"]
    assert last(purchases(*values, every=1), "amount_to_median") == pytest.approx(10.0)  # not 0.1: old 1000s gone


def test_an_earlier_observed_purchase_stamped_later_is_not_in_the_history():
    timed = [event("purchase", 100, value="1000.00"), event("purchase", 10, value="10.00")]
    f = as_dict(run(timed)[-1])
    assert (f["amount_to_median"], f["purchases_last_1m"]) == (0, 1)
    timed.append(event("purchase", 200, value="100.00"))
    assert feature(run(timed)[-1], "amount_to_median") == pytest.approx(100 / 505)  # both count once past


# --- countries and devices ----------------------------------------------------------------------


def test_country_switches_how_fast_and_how_many():
    countries = [(0, "US"), (30, "FR"), (90, "FR"), (100, "US")]
    timed = [event(seconds=s, country=c) for s, c in countries]
    f = [as_dict(x) for x in run(timed)]
    assert [x["country_changed"] for x in f] == [0, 1, 0, 1]
    assert [x["seconds_since_country_change"] for x in f] == [SECONDS_CAP, 30, 90, 10]
    assert [x["countries_last_10m"] for x in f] == [1, 2, 2, 2]
    assert [x["new_country"] for x in f] == [0, 1, 0, 0]


def test_countries_in_ten_minutes_count_distinct_countries_and_stop_at_the_boundary():
    hops = ["US", "FR", "DE", "ES", "IT", "NL", "BE"]
    timed = [event(seconds=50 * i, country=c) for i, c in enumerate(hops)]
    assert last(timed, "countries_last_10m") == 7
    assert last(timed + [event(seconds=310, country="US")], "countries_last_10m") == 7  # US again: not twice
    ten_minutes = timedelta(minutes=10)
    for later, expected in ((ten_minutes, 2), (ten_minutes + US, 1)):
        timed = [event(when=T0, country="US"), event(when=T0 + later, country="FR")]
        assert last(timed, "countries_last_10m") == expected


def test_new_and_changed_devices():
    timed = [event(seconds=0, device="mobile"), event(seconds=1, device="desktop"), event(seconds=2, device="mobile")]
    f = [as_dict(x) for x in run(timed)]
    assert [(x["device_changed"], x["new_device"]) for x in f] == [(0, 0), (1, 1), (1, 0)]


# --- sessions and time of day ------------------------------------------------------------------


def test_session_rate_counts_this_session_over_its_minutes_floored_at_one():
    other = str(uuid.UUID(int=2, version=4))
    timed = [event(seconds=s) for s in (0, 30, 60, 90, 120)] + [event(seconds=130, session_id=other)]
    rates = [feature(f, "session_events_per_minute") for f in run(timed)]
    assert rates == [1.0, 2.0, 3.0, pytest.approx(4 / 1.5), 2.5, 1.0]


def test_hour_of_day_is_the_local_hour_in_the_country_on_a_circle():
    utc_ten = T0.replace(hour=10)
    for country, local_hour in (("GB", 10), ("US", 5), ("JP", 19)):  # late November: no daylight saving
        f = as_dict(run([event(when=utc_ten, country=country)])[0])
        assert f["hour_of_day_sin"] == pytest.approx(sin(2 * pi * local_hour / 24))
        assert f["hour_of_day_cos"] == pytest.approx(cos(2 * pi * local_hour / 24))


def test_extract_keeps_users_apart():
    a1, a2 = event("purchase", 0, value="10.00"), event("purchase", 10, value="100.00")
    b1 = event("purchase", 5, value="1000.00", user_id="u2")
    features, states = extract([a1, b1, a2])
    assert set(states) == {"u1", "u2"}
    assert feature(features[1], "amount_to_median") == 0  # u2's first purchase
    assert feature(features[2], "amount_to_median") == pytest.approx(10.0)  # against u1's 10.00 only


def test_observe_updates_and_returns_the_given_state():
    state = UserFeatureState()
    e, when = event()
    _, returned = observe(state, e, when)
    assert returned is state and state.times and state.previous_time is not None


def test_reasons_from_real_events():
    history = purchases("10.00", "10.00", "10.00", "380.00")
    assert reasons(run(history)[-1])[0] == "purchase 38x this user's median"
    hops = [event(seconds=50 * i, country=c) for i, c in enumerate(["US", "FR", "DE", "ES", "IT", "NL", "BE"])]
    assert "7 countries in 10 minutes" in reasons(run(hops)[-1])
    clicks = [event("click", i / 5) for i in range(45)]
    assert "45 clicks in 10 seconds" in reasons(run(clicks)[-1])
