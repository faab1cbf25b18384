"""The mock event generator: reproducible, valid, and shaped like real traffic."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice

import pytest

from application.traffic import TrafficProfile, generate_events, partition_key, to_wire
from domain.events import Device, EventType
from domain.validation import parse_event

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
N = 20_000


@pytest.fixture(scope="module")
def stream():
    return list(generate_events(N, seed=7, start=START))


@pytest.fixture(scope="module")
def sessions(stream):
    by_session = defaultdict(list)
    for event in stream:
        by_session[event.session_id].append(event)
    return by_session


def _shares(counter: Counter) -> dict:
    total = sum(counter.values())
    return {key: count / total for key, count in counter.items()}


def test_same_seed_gives_identical_events():
    first = list(generate_events(2_000, seed=42, start=START))
    second = list(generate_events(2_000, seed=42, start=START))
    assert first == second
    assert [to_wire(e) for e in first] == [to_wire(e) for e in second]


def test_different_seeds_differ():
    a = list(generate_events(500, seed=1, start=START))
    b = list(generate_events(500, seed=2, start=START))
    assert not {e.event_id for e in a} & {e.event_id for e in b}
    assert [e.user_id for e in a] != [e.user_id for e in b]
    assert [e.event_type for e in a] != [e.event_type for e in b]


def test_event_and_session_ids_are_unique_uuid4(stream, sessions):
    assert len({e.event_id for e in stream}) == N
    assert all(e.event_id.version == 4 for e in stream)
    assert all(s.version == 4 for s in sessions)
    assert not {e.event_id for e in stream} & set(sessions)


def test_every_event_is_valid_on_the_wire(stream):
    assert {e.event_type for e in stream} == set(EventType)
    for event in stream:
        assert parse_event(event.model_dump_json().encode()) == event
        back = parse_event(to_wire(event))
        assert back == event and type(back) is type(event)


def test_wire_form_omits_absent_optionals_and_keys_by_user(stream):
    for event in stream[:500]:
        assert b"null" not in to_wire(event)
        assert partition_key(event) == event.user_id.encode()


def test_event_mix_is_roughly_that_of_a_consumer_site(stream):
    shares = _shares(Counter(e.event_type for e in stream))
    expected = {
        EventType.PAGE_VIEW: (0.35, 0.45), EventType.CLICK: (0.20, 0.30),
        EventType.SEARCH: (0.09, 0.15), EventType.VIDEO_WATCH: (0.08, 0.13),
        EventType.PURCHASE: (0.03, 0.05), EventType.LOGIN: (0.035, 0.065),
        EventType.LOGOUT: (0.02, 0.04), EventType.SIGNUP: (0.01, 0.04),
    }  # fmt: skip
    for kind, (low, high) in expected.items():
        assert low <= shares[kind] <= high, (kind, shares[kind])


def test_activity_is_skewed_towards_heavy_users(stream):
    per_user = sorted(Counter(e.user_id for e in stream).values(), reverse=True)
    users = len(per_user)
    assert 400 <= users <= 500  # count // 40 users, nearly all of them active
    top_1pct = sum(per_user[: users // 100]) / N
    top_20pct = sum(per_user[: users // 5]) / N
    bottom_half = sum(per_user[users // 2 :]) / N
    assert top_1pct > 0.035  # over 3.5x a fair share: a few heavy users
    assert top_20pct > 0.45
    assert bottom_half < 0.25  # a long tail of occasional users
    assert per_user[-1] < 10


def test_user_ids_look_like_user_000123_and_follow_the_profile():
    events = list(generate_events(3_000, seed=3, start=START, profile=TrafficProfile(users=20)))
    ids = {e.user_id for e in events}
    assert len(ids) <= 20
    assert all(re.fullmatch(r"user_\d{6}", user_id) for user_id in ids)
    assert TrafficProfile().user_count(N) == 500
    assert TrafficProfile().user_count(100) == 50


def test_sessions_hold_several_events_in_time_order(sessions):
    lengths = [len(events) for events in sessions.values()]
    assert 5.0 <= statistics.mean(lengths) <= 7.0
    assert sum(n >= 2 for n in lengths) / len(lengths) > 0.95  # only the cut-off tail is short
    for events in sessions.values():
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert len({(e.user_id, e.device, e.country) for e in events}) == 1


def test_sessions_of_many_users_are_interleaved(stream):
    windows = [stream[i : i + 50] for i in range(0, N, 50)]
    assert min(len({e.session_id for e in w}) for w in windows) >= 20
    assert min(len({e.user_id for e in w}) for w in windows) >= 20


def test_first_session_of_a_user_starts_with_signup(stream, sessions):
    first_of_user = {}
    for event in stream:
        first_of_user.setdefault(event.user_id, event)
    assert all(e.event_type is EventType.SIGNUP for e in first_of_user.values())
    signups = Counter(e.user_id for e in stream if e.event_type is EventType.SIGNUP)
    assert set(signups.values()) == {1}
    openers = Counter(events[0].event_type for events in sessions.values())
    assert set(openers) == {EventType.SIGNUP, EventType.LOGIN, EventType.PAGE_VIEW}


def test_sessions_follow_a_funnel(sessions):
    for events in sessions.values():
        kinds = [e.event_type for e in events]
        for position, kind in enumerate(kinds):
            if kind in (EventType.SIGNUP, EventType.LOGIN):
                assert position == 0
                assert kinds[1:2] in ([], [EventType.PAGE_VIEW])  # then lands on a page
            if kind is EventType.LOGOUT:
                assert position == len(kinds) - 1 >= 2
            if kind is EventType.PURCHASE:  # a purchase follows some browsing
                assert kinds[position - 1] not in (EventType.SEARCH, EventType.LOGIN)
    assert sum(events[-1].event_type is EventType.LOGOUT for events in sessions.values()) > 300


def test_country_and_device_shares_are_realistic():
    # Many users, so the population's shares are not drowned by a few heavy users.
    profile = TrafficProfile(users=5_000)
    events = list(generate_events(N, seed=11, start=START, profile=profile))
    devices_of = defaultdict(Counter)
    country_of = {}
    for event in events:
        devices_of[event.user_id][event.device] += 1
        country_of[event.user_id] = event.country
    countries = _shares(Counter(country_of.values()))
    assert abs(countries["US"] - 0.30) < 0.04
    for code, share in {"IN": 0.09, "GB": 0.07, "DE": 0.06, "BR": 0.05, "FR": 0.045}.items():
        assert abs(countries[code] - share) < 0.025, code
    top_13 = ("US", "IN", "GB", "DE", "BR", "FR", "CA", "JP", "ES", "IT", "AU", "MX", "NL")
    assert 0.75 <= sum(countries.get(c, 0) for c in top_13) <= 0.90
    assert len(countries) >= 30  # and a long tail of small ones
    primary = _shares(Counter(c.most_common(1)[0][0] for c in devices_of.values()))
    expected = {  # (share, tolerance)
        Device.MOBILE: (0.58, 0.04), Device.DESKTOP: (0.33, 0.04), Device.TABLET: (0.06, 0.02),
        Device.TV: (0.02, 0.012), Device.OTHER: (0.01, 0.008),
    }  # fmt: skip
    for device, (share, tolerance) in expected.items():
        assert abs(primary[device] - share) < tolerance, (device, primary[device])
    by_event = Counter(e.device for e in events).most_common()
    assert [d for d, _ in by_event[:2]] == [Device.MOBILE, Device.DESKTOP]


def test_users_occasionally_switch_device(sessions):
    sessions_of = defaultdict(Counter)
    for events in sessions.values():
        sessions_of[events[0].user_id][events[0].device] += 1
    total = sum(sum(c.values()) for c in sessions_of.values())
    off_primary = sum(sum(c.values()) - c.most_common(1)[0][1] for c in sessions_of.values())
    assert 0.03 < off_primary / total < 0.15


def test_purchases_have_plausible_values_and_matching_currency(stream):
    purchases = [e for e in stream if e.event_type is EventType.PURCHASE]
    assert all(e.value is None for e in stream if e.event_type is not EventType.PURCHASE)
    values = sorted(e.value for e in purchases)
    assert all(v.as_tuple().exponent == -2 for v in values)  # money in cents
    assert Decimal("0.50") <= values[0] and values[-1] <= Decimal("5000")
    assert Decimal(25) <= statistics.median(values) <= Decimal(50)
    assert values[int(len(values) * 0.99)] > Decimal(150)  # a long tail of big orders
    assert all(e.data.quantity >= 1 for e in purchases)
    known = {"US": "USD", "IN": "INR", "GB": "GBP", "DE": "EUR", "FR": "EUR", "BR": "BRL",
             "CA": "CAD", "JP": "JPY", "AU": "AUD", "MX": "MXN", "ES": "EUR"}  # fmt: skip
    currencies = defaultdict(set)
    for event in purchases:
        currencies[event.country].add(event.data.currency)
    assert all(len(found) == 1 for found in currencies.values())  # one currency per country
    for country, currency in known.items():
        assert currencies[country] in (set(), {currency}), country
    assert currencies["US"] == {"USD"}


def test_purchase_share_is_a_knob():
    def purchase_share(profile):
        events = list(generate_events(5_000, seed=5, start=START, profile=profile))
        return sum(e.event_type is EventType.PURCHASE for e in events) / len(events)

    assert purchase_share(TrafficProfile(purchase_share=0.0)) == 0.0
    assert purchase_share(TrafficProfile(purchase_share=0.10)) == pytest.approx(0.10, abs=0.02)
    assert purchase_share(TrafficProfile(purchase_share=0.20)) == pytest.approx(0.20, abs=0.03)


def test_payloads_are_plausible(stream):
    for event in stream:
        if event.event_type is EventType.CLICK:
            assert event.data.page.startswith("/") and event.data.element
        elif event.event_type is EventType.SEARCH:
            assert event.data.query.strip() and event.data.results_count >= 0
        elif event.event_type is EventType.VIDEO_WATCH:
            assert event.data.video_id.startswith("vid_") and 0 <= event.data.watch_seconds <= 7200
    views = [e for e in stream if e.event_type is EventType.PAGE_VIEW]
    assert 0.3 < sum(e.data.referrer is not None for e in views) / len(views) < 1.0


def test_timestamps_follow_the_target_rate(stream):
    assert stream[0].timestamp == START
    stamps = [e.timestamp for e in stream]
    assert stamps == sorted(stamps)
    span = (stamps[-1] - stamps[0]).total_seconds()
    assert span == pytest.approx(N / 1000.0, rel=0.03)
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:], strict=False)]
    assert statistics.pstdev(gaps) > 0.5 * statistics.mean(gaps)  # jittered, not a metronome

    slow = list(generate_events(2_000, seed=1, start=START, rate=50.0))
    slow_span = (slow[-1].timestamp - slow[0].timestamp).total_seconds()
    assert slow_span == pytest.approx(2_000 / 50.0, rel=0.1)


def test_timestamps_keep_the_start_timezone():
    tz = timezone(timedelta(hours=2))
    events = list(generate_events(50, seed=1, start=START.astimezone(tz)))
    assert events[0].timestamp == START
    assert all(e.timestamp.utcoffset() == timedelta(hours=2) for e in events)


def test_some_events_carry_a_slightly_later_client_send_time(stream):
    sent = [e for e in stream if e.sent_at is not None]
    assert 0.2 < len(sent) / N < 0.4
    assert all(e.timestamp <= e.sent_at <= e.timestamp + timedelta(seconds=5) for e in sent)


def test_generation_is_lazy_and_cheap_to_start():
    # Eagerly generating a billion events would never return; the users are capped too.
    first = list(islice(generate_events(10**9, seed=1, start=START), 10))
    assert len(first) == 10
    assert TrafficProfile().user_count(10**9) == 100_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"count": -1},
        {"start": datetime(2024, 5, 1)},  # naive
        {"rate": 0.0},
        {"rate": float("inf")},
    ],
)
def test_bad_arguments_are_rejected_at_call_time(kwargs):
    arguments = {"count": 10, "seed": 1, "start": START} | kwargs
    with pytest.raises(ValueError):
        generate_events(**arguments)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"users": 0},
        {"mean_session_events": 1.0},
        {"purchase_share": -0.1},
        {"purchase_share": 0.5},
        {"country_shares": (("XX", 1.0),)},
    ],
)
def test_bad_profiles_are_rejected(kwargs):
    with pytest.raises(ValueError):
        TrafficProfile(**kwargs)


@pytest.mark.slow
def test_generates_at_least_50k_events_per_second():
    started = time.perf_counter()
    for _ in generate_events(100_000, seed=1, start=START):
        pass
    assert 100_000 / (time.perf_counter() - started) >= 50_000
