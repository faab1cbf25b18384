"""Event time: client clock-skew correction, clamping of future times, lateness."""

from __future__ import annotations

from datetime import timedelta, timezone

from domain.event_time import DEFAULT_ALLOWED_LATENESS, DEFAULT_MAX_FUTURE, EventTiming, event_timing
from tests.factories import T0

US = timedelta(microseconds=1)


# --- event time and skew correction ----------------------------------------------------


def test_without_sent_at_the_event_time_is_the_timestamp():
    timestamp = T0 - timedelta(seconds=7)
    assert event_timing(timestamp, None, T0) == EventTiming(timestamp, late=False, future_clamped=False)


def test_without_sent_at_no_correction_is_made_even_if_the_timestamp_looks_odd():
    timestamp = T0 + timedelta(minutes=3)  # ahead, but within max_future
    timing = event_timing(timestamp, None, T0)
    assert timing.event_time == timestamp
    assert not timing.future_clamped


def test_a_client_clock_two_hours_behind_is_corrected_by_the_send_delay():
    behind = timedelta(hours=2)
    true_event = T0 - timedelta(seconds=30)
    received_at = T0 + timedelta(seconds=1)
    # the client's clock reads 2h less than the true time, both when the event
    # happened and when the batch was sent (1 s of network time before receipt)
    timestamp = true_event - behind
    sent_at = T0 - behind

    timing = event_timing(timestamp, sent_at, received_at)

    assert timing.event_time == true_event + timedelta(seconds=1)
    assert not timing.late
    assert not timing.future_clamped


def test_a_client_clock_ahead_is_corrected_back_instead_of_being_clamped():
    ahead = timedelta(hours=3)
    timestamp = T0 - timedelta(seconds=10) + ahead
    sent_at = T0 + ahead

    timing = event_timing(timestamp, sent_at, T0)

    assert timing.event_time == T0 - timedelta(seconds=10)
    assert not timing.future_clamped


def test_skew_correction_works_across_utc_offsets():
    plus_five = timezone(timedelta(hours=5))
    timestamp = (T0 - timedelta(minutes=1)).astimezone(plus_five)
    sent_at = T0.astimezone(plus_five)
    timing = event_timing(timestamp, sent_at, T0 + timedelta(seconds=2))
    assert timing.event_time == T0 - timedelta(minutes=1) + timedelta(seconds=2)


# --- lateness ---------------------------------------------------------------------------


def test_an_event_exactly_at_the_lateness_boundary_is_on_time():
    timing = event_timing(T0 - DEFAULT_ALLOWED_LATENESS, None, T0)
    assert timing.late is False


def test_an_event_one_microsecond_beyond_the_lateness_boundary_is_late():
    timestamp = T0 - DEFAULT_ALLOWED_LATENESS - US
    timing = event_timing(timestamp, None, T0)
    assert timing.late is True
    assert timing.event_time == timestamp  # late events keep their event time
    assert timing.future_clamped is False


def test_default_allowed_lateness_is_five_minutes():
    assert not event_timing(T0 - timedelta(minutes=5), None, T0).late
    assert event_timing(T0 - timedelta(minutes=5, seconds=1), None, T0).late


def test_custom_allowed_lateness_moves_the_boundary():
    lateness = timedelta(hours=1)
    assert not event_timing(T0 - lateness, None, T0, allowed_lateness=lateness).late
    assert event_timing(T0 - lateness - US, None, T0, allowed_lateness=lateness).late
    # an event 10 min old: late by default, on time with an hour allowed
    ten_minutes_old = T0 - timedelta(minutes=10)
    assert event_timing(ten_minutes_old, None, T0).late
    assert not event_timing(ten_minutes_old, None, T0, allowed_lateness=lateness).late


def test_zero_allowed_lateness_makes_any_past_event_late():
    assert not event_timing(T0, None, T0, allowed_lateness=timedelta(0)).late
    assert event_timing(T0 - US, None, T0, allowed_lateness=timedelta(0)).late


def test_lateness_is_judged_on_the_skew_corrected_time():
    # client clock 2h behind: the raw timestamp looks 2h old, the corrected time is fresh
    fresh = event_timing(T0 - timedelta(hours=2), T0 - timedelta(hours=2), T0)
    assert fresh.event_time == T0
    assert not fresh.late


def test_an_event_can_be_both_skew_corrected_and_late():
    behind = timedelta(hours=2)
    true_event = T0 - timedelta(minutes=20)  # held 20 min on the device before sending
    timestamp = true_event - behind
    sent_at = T0 - behind

    timing = event_timing(timestamp, sent_at, T0)

    assert timing == EventTiming(true_event, late=True, future_clamped=False)


# --- future clamping -------------------------------------------------------------------


def test_an_event_more_than_max_future_ahead_is_clamped_to_received_at_and_flagged():
    timing = event_timing(T0 + DEFAULT_MAX_FUTURE + US, None, T0)
    assert timing == EventTiming(T0, late=False, future_clamped=True)


def test_an_event_exactly_max_future_ahead_is_not_clamped():
    timing = event_timing(T0 + DEFAULT_MAX_FUTURE, None, T0)
    assert timing == EventTiming(T0 + DEFAULT_MAX_FUTURE, late=False, future_clamped=False)


def test_a_far_future_event_is_clamped_not_marked_late():
    timing = event_timing(T0 + timedelta(days=365), None, T0)
    assert timing.event_time == T0
    assert timing.future_clamped
    assert not timing.late


def test_custom_max_future_moves_the_clamp_limit():
    limit = timedelta(seconds=10)
    kept = event_timing(T0 + limit, None, T0, max_future=limit)
    clamped = event_timing(T0 + limit + US, None, T0, max_future=limit)
    assert kept == EventTiming(T0 + limit, late=False, future_clamped=False)
    assert clamped == EventTiming(T0, late=False, future_clamped=True)
    # 1 min ahead: kept by default, clamped with a 10 s limit
    assert not event_timing(T0 + timedelta(minutes=1), None, T0).future_clamped
    assert event_timing(T0 + timedelta(minutes=1), None, T0, max_future=limit).future_clamped


def test_clamping_applies_to_the_skew_corrected_time():
    # timestamp 1 h after sent_at: even after correction the event is 1 h in the future
    timing = event_timing(T0 + timedelta(hours=1), T0, T0)
    assert timing == EventTiming(T0, late=False, future_clamped=True)
