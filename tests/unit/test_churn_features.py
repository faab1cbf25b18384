"""Churn features and labels: relative windows, documented definitions, nothing after the cutoff."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.churn import FEATURES, PERIODS, churn_features, churn_label

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OBS = timedelta(days=30)  # the window "stands for" 30 days, so one period is one day
CUTOFF = T0 + OBS


def at(days: float, kind: str = "page_view", value: str | None = None, session: str = "s1"):
    return (T0 + timedelta(days=days), kind, Decimal(value) if value is not None else None, session)


def features(events, cutoff=CUTOFF, observation=OBS) -> dict[str, float]:
    vector = churn_features(events, cutoff, observation=observation)
    assert len(vector) == len(FEATURES)
    return dict(zip(FEATURES, vector, strict=True))


def test_feature_names_are_unique_and_documented():
    import domain.churn

    assert len(set(FEATURES)) == len(FEATURES)
    assert all(name in domain.churn.__doc__ for name in FEATURES)


def test_recency_frequency_monetary_and_engagement_of_a_small_history():
    events = [
        at(2.3, "login", session="a"),
        at(2.4, "page_view", session="a"),
        at(20.5, "page_view", session="b"),
        at(24.5, "purchase", "10.00", session="c"),
        at(25.5, "search", session="c"),
        at(29.5, "purchase", "5.50", session="d"),
        at(29.6, "click", session="d"),
    ]
    f = features(events)

    assert f["recency"] == pytest.approx(0.4 / 30)  # 0.4 "days" of a 30-day window
    assert f["tenure"] == pytest.approx(27.7 / 30)
    assert f["events_last_1d"] == 2  # 29.5 and 29.6: within the last 1/30 of the window
    assert f["events_last_7d"] == 4  # from day 23 on
    assert f["events_last_30d"] == 7
    assert f["purchases"] == 2
    assert f["spend_log"] == pytest.approx(math.log1p(15.5))
    assert f["sessions"] == 4
    assert f["events_per_session"] == pytest.approx(7 / 4)
    assert f["event_types"] == 5  # login, page_view, purchase, search, click
    assert f["active_periods"] == 5  # periods counted back from the cutoff: days 2, 20, 24, 25 and 29
    assert f["trend"] == pytest.approx((5 - 2) / 7)  # 5 events in the second half, 2 in the first
    assert f["session_rate"] == pytest.approx(4 / (27.7 / 30))
    assert f["overdue"] == pytest.approx(f["recency"] * f["session_rate"])


def test_windows_are_relative_to_the_observation_span():
    """The same shape of history in seconds or in days gives the same vector."""
    days = [at(d, session=f"s{int(d)}") for d in (1.0, 8.0, 15.5, 22.0, 29.0, 29.9)]
    scale = 1 / 86_400  # a day becomes a second
    seconds = [(T0 + (t - T0) * scale, k, v, s) for t, k, v, s in days]

    in_days = churn_features(days, CUTOFF, observation=OBS)
    in_seconds = churn_features(seconds, T0 + OBS * scale, observation=OBS * scale)

    assert in_seconds == pytest.approx(in_days)


def test_window_counts_and_monetary_exclude_events_older_than_the_window_but_recency_sees_them():
    old = [at(-40.0, "purchase", "100.00", session="old"), at(-39.0, session="old")]
    f = features(old)
    assert f["recency"] == pytest.approx(69 / 30)  # may exceed 1: silent for longer than the window
    assert f["tenure"] == 1.0  # capped: "at least a whole window old"
    assert (f["events_last_30d"], f["purchases"], f["spend_log"], f["sessions"]) == (0, 0, 0.0, 0)
    assert (f["events_per_session"], f["event_types"], f["active_periods"], f["trend"]) == (0, 0, 0, 0)
    assert f["session_rate"] == pytest.approx(1 / (70 / 30))
    assert f["overdue"] == pytest.approx(69 / 70)


def test_a_fading_user_has_a_negative_trend_and_grows_overdue():
    fading = [at(d, session=f"s{d}") for d in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20)]
    steady = [at(d, session=f"s{d}") for d in range(1, 30, 3)]
    f, g = features(fading), features(steady)
    assert f["trend"] < 0 < g["trend"] + 0.5
    assert f["overdue"] > 3 * g["overdue"]


def test_a_brand_new_users_rate_stays_finite():
    f = features([at(29.999, "signup", session="n"), at(30.0, session="n")])
    assert f["recency"] == 0.0
    assert f["session_rate"] == PERIODS  # tenure floored at one period
    assert math.isfinite(f["overdue"])


def test_events_after_the_cutoff_change_nothing():
    rng = random.Random(7)
    kinds = ["page_view", "click", "search", "purchase", "video_watch", "login"]
    history = []
    for _ in range(300):
        kind = rng.choice(kinds)
        history.append(at(rng.uniform(-10, 60), kind, "9.99" if kind == "purchase" else None, f"s{rng.randrange(9)}"))
    past = [e for e in history if e[0] <= CUTOFF]
    assert len(past) < len(history)

    assert churn_features(history, CUTOFF, observation=OBS) == churn_features(past, CUTOFF, observation=OBS)
    rng.shuffle(history)  # and order does not matter
    assert churn_features(history, CUTOFF, observation=OBS) == churn_features(past, CUTOFF, observation=OBS)


def test_an_event_exactly_at_the_cutoff_is_in_the_past():
    f = features([at(30.0)])
    assert (f["recency"], f["events_last_1d"]) == (0.0, 1)


def test_purchases_without_a_value_count_but_add_no_spend():
    f = features([at(29, "purchase", None), at(29.5, "purchase", "3.00")])
    assert f["purchases"] == 2 and f["spend_log"] == pytest.approx(math.log1p(3.0))


def test_nothing_to_featurise_before_the_first_event_or_without_a_window():
    with pytest.raises(ValueError, match="no event"):
        churn_features([at(31.0)], CUTOFF, observation=OBS)
    with pytest.raises(ValueError, match="no event"):
        churn_features([], CUTOFF, observation=OBS)
    with pytest.raises(ValueError, match="positive"):
        churn_features([at(1.0)], CUTOFF, observation=timedelta(0))


def test_churned_means_no_event_in_the_horizon():
    assert churn_label(0) == 1
    assert churn_label(1) == 0 and churn_label(250) == 0
    with pytest.raises(ValueError):
        churn_label(-1)
