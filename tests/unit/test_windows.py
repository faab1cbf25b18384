"""Event-time window folds: epoch-aligned windows, per-dimension totals, daily stats."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.windows import (
    MINUTE,
    RATE_BUCKET,
    Totals,
    aggregate,
    daily_totals,
    daily_users,
    minute_users,
    minute_windows,
    rate_buckets,
    window_start,
)
from tests.factories import T0, make_event

TEN_SECONDS = timedelta(seconds=10)
MINUS_FIVE = timezone(timedelta(hours=-5))
PLUS_0530 = timezone(timedelta(hours=5, minutes=30))


def purchase(value: str, **overrides):
    return make_event("purchase", value=value, **overrides)


# --- window_start -----------------------------------------------------------------------


def test_window_start_of_a_minute_drops_seconds_and_microseconds():
    moment = datetime(2026, 11, 27, 10, 7, 42, 123456, tzinfo=UTC)
    assert window_start(moment, MINUTE) == datetime(2026, 11, 27, 10, 7, tzinfo=UTC)


def test_a_moment_on_a_boundary_starts_its_own_window():
    moment = datetime(2026, 11, 27, 10, 7, tzinfo=UTC)
    assert window_start(moment, MINUTE) == moment
    assert window_start(moment - timedelta(microseconds=1), MINUTE) == moment - MINUTE


def test_ten_second_windows_start_on_multiples_of_ten_seconds():
    assert window_start(datetime(2026, 11, 27, 10, 7, 19, 999999, tzinfo=UTC), TEN_SECONDS) == datetime(
        2026, 11, 27, 10, 7, 10, tzinfo=UTC
    )
    assert window_start(datetime(2026, 11, 27, 10, 7, 20, tzinfo=UTC), TEN_SECONDS) == datetime(
        2026, 11, 27, 10, 7, 20, tzinfo=UTC
    )
    assert RATE_BUCKET == TEN_SECONDS


def test_windows_are_aligned_to_the_unix_epoch():
    # 7-second windows do not divide a minute: alignment must come from the epoch
    seven = timedelta(seconds=7)
    moment = datetime(2026, 11, 27, 10, 7, 42, tzinfo=UTC)
    start = window_start(moment, seven)
    assert start <= moment < start + seven
    assert (start - datetime(1970, 1, 1, tzinfo=UTC)) % seven == timedelta(0)
    # 10:07:42 UTC is epoch second 1_795_774_062 = 7 * 256_539_151 + 5, so its window starts 5 s earlier
    assert start == datetime(2026, 11, 27, 10, 7, 37, tzinfo=UTC)


def test_a_timezone_aware_moment_in_another_offset_gives_the_same_instant():
    utc_moment = datetime(2026, 11, 27, 10, 7, 42, 5, tzinfo=UTC)
    for offset in (MINUS_FIVE, PLUS_0530, timezone(timedelta(hours=12, minutes=45))):
        local = utc_moment.astimezone(offset)
        assert window_start(local, MINUTE) == datetime(2026, 11, 27, 10, 7, tzinfo=UTC)
        assert window_start(local, TEN_SECONDS) == datetime(2026, 11, 27, 10, 7, 40, tzinfo=UTC)


def test_hour_windows_start_on_the_utc_hour_even_for_a_half_hour_offset():
    # 15:37+05:30 is 10:07 UTC: its hour window starts 10:00 UTC, which is 15:30 local
    local = datetime(2026, 11, 27, 15, 37, tzinfo=PLUS_0530)
    start = window_start(local, timedelta(hours=1))
    assert start == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert start.astimezone(PLUS_0530).minute == 30


def test_a_half_hour_offset_does_not_shift_minute_windows_by_its_local_wall_clock():
    # 15:37:42+05:30 is 10:07:42 UTC; its window starts 10:07 UTC (15:37 local)
    local = datetime(2026, 11, 27, 15, 37, 42, tzinfo=PLUS_0530)
    assert window_start(local, MINUTE).astimezone(UTC) == datetime(2026, 11, 27, 10, 7, tzinfo=UTC)


# --- minute_windows ---------------------------------------------------------------------


def test_one_event_counts_once_in_each_dimension_of_its_minute():
    event = make_event("page_view", country="JP", device="desktop")
    minute = datetime(2026, 11, 27, 10, 3, tzinfo=UTC)

    windows = minute_windows([(event, minute + timedelta(seconds=15))])

    assert windows == {
        (minute, "all", "all"): Totals(1, 0, Decimal(0)),
        (minute, "event_type", "page_view"): Totals(1, 0, Decimal(0)),
        (minute, "country", "JP"): Totals(1, 0, Decimal(0)),
        (minute, "device", "desktop"): Totals(1, 0, Decimal(0)),
    }


def test_minute_totals_add_purchases_and_revenue_per_dimension():
    minute = T0
    timed = [
        (purchase("10.50", country="US", device="mobile"), minute + timedelta(seconds=1)),
        (purchase("4.25", country="DE", device="mobile"), minute + timedelta(seconds=2)),
        (make_event("click", country="US", device="tablet"), minute + timedelta(seconds=3)),
        (make_event("page_view", country="US", device="mobile"), minute + timedelta(seconds=59)),
    ]

    windows = minute_windows(timed)

    assert windows[(minute, "all", "all")] == Totals(4, 2, Decimal("14.75"))
    assert windows[(minute, "event_type", "purchase")] == Totals(2, 2, Decimal("14.75"))
    assert windows[(minute, "event_type", "click")] == Totals(1, 0, Decimal(0))
    assert windows[(minute, "event_type", "page_view")] == Totals(1, 0, Decimal(0))
    assert windows[(minute, "country", "US")] == Totals(3, 1, Decimal("10.50"))
    assert windows[(minute, "country", "DE")] == Totals(1, 1, Decimal("4.25"))
    assert windows[(minute, "device", "mobile")] == Totals(3, 2, Decimal("14.75"))
    assert windows[(minute, "device", "tablet")] == Totals(1, 0, Decimal(0))
    assert len(windows) == 1 + 3 + 2 + 2


def test_events_in_different_minutes_fall_in_different_windows():
    first, second = make_event("click"), purchase("3.00")
    windows = minute_windows([(first, T0 + timedelta(seconds=59)), (second, T0 + timedelta(seconds=60))])

    assert windows[(T0, "all", "all")] == Totals(1, 0, Decimal(0))
    assert windows[(T0 + MINUTE, "all", "all")] == Totals(1, 1, Decimal("3.00"))
    assert (T0, "event_type", "purchase") not in windows
    assert (T0 + MINUTE, "event_type", "click") not in windows


def test_minute_windows_bucket_by_the_given_event_time_not_the_event_timestamp():
    event = make_event("click", timestamp=T0.isoformat())
    windows = minute_windows([(event, T0 + timedelta(minutes=10))])
    assert {minute for minute, _, _ in windows} == {T0 + timedelta(minutes=10)}


def test_no_events_make_no_windows():
    assert minute_windows([]) == {}
    assert minute_users([]) == set()
    assert rate_buckets([]) == {}
    assert daily_totals([]) == {}
    assert daily_users([]) == set()


# --- minute_users ------------------------------------------------------------------------


def test_minute_users_count_each_user_once_per_minute():
    timed = [
        (make_event("click", user_id="alice"), T0 + timedelta(seconds=1)),
        (make_event("page_view", user_id="alice"), T0 + timedelta(seconds=30)),
        (make_event("click", user_id="bob"), T0 + timedelta(seconds=45)),
        (make_event("click", user_id="alice"), T0 + timedelta(seconds=61)),
    ]
    assert minute_users(timed) == {(T0, "alice"), (T0, "bob"), (T0 + MINUTE, "alice")}


def test_minute_users_match_across_utc_offsets():
    utc = make_event("click", user_id="alice")
    local_time = (T0 + timedelta(seconds=5)).astimezone(MINUS_FIVE)
    assert minute_users([(utc, T0 + timedelta(seconds=1)), (utc, local_time)]) == {(T0, "alice")}


# --- rate_buckets ------------------------------------------------------------------------


def test_rate_buckets_count_events_per_ten_seconds():
    times = [T0, T0 + timedelta(seconds=9, microseconds=999999), T0 + timedelta(seconds=10), T0 + timedelta(seconds=35)]
    buckets = rate_buckets([(make_event("click"), t) for t in times])
    assert buckets == {T0: 2, T0 + timedelta(seconds=10): 1, T0 + timedelta(seconds=30): 1}


# --- daily_totals / daily_users ----------------------------------------------------------


def test_daily_totals_group_by_utc_day_event_type_and_country():
    day = T0.date()
    timed = [
        (purchase("5.00", country="US"), T0),
        (purchase("7.00", country="US"), T0 + timedelta(hours=1)),
        (purchase("1.00", country="FR"), T0),
        (make_event("click", country="US"), T0),
        (make_event("click", country="US"), T0 + timedelta(days=1)),
    ]

    totals = daily_totals(timed)

    assert totals == {
        (day, "purchase", "US"): Totals(2, 2, Decimal("12.00")),
        (day, "purchase", "FR"): Totals(1, 1, Decimal("1.00")),
        (day, "click", "US"): Totals(1, 0, Decimal(0)),
        (day + timedelta(days=1), "click", "US"): Totals(1, 0, Decimal(0)),
    }


def test_daily_totals_use_the_utc_day_of_the_event_time_not_the_local_day():
    # 23:30 at UTC-5 on the 27th is 04:30 UTC on the 28th
    late_evening = datetime(2026, 11, 27, 23, 30, tzinfo=MINUS_FIVE)
    totals = daily_totals([(purchase("2.00", country="US"), late_evening)])
    assert totals == {(date(2026, 11, 28), "purchase", "US"): Totals(1, 1, Decimal("2.00"))}


def test_daily_totals_put_an_early_local_morning_ahead_of_utc_on_the_previous_utc_day():
    # 02:00 at UTC+05:30 on the 28th is 20:30 UTC on the 27th
    early = datetime(2026, 11, 28, 2, 0, tzinfo=PLUS_0530)
    assert set(daily_totals([(make_event("click", country="IN"), early)])) == {(date(2026, 11, 27), "click", "IN")}


def test_daily_users_dedupe_per_utc_day_event_type_country_and_user():
    timed = [
        (make_event("click", user_id="alice", country="US"), T0),
        (make_event("click", user_id="alice", country="US"), T0 + timedelta(hours=3)),
        (make_event("page_view", user_id="alice", country="US"), T0),
        (make_event("click", user_id="alice", country="GB"), T0),
        (make_event("click", user_id="bob", country="US"), T0),
        (make_event("click", user_id="alice", country="US"), datetime(2026, 11, 27, 23, 30, tzinfo=MINUS_FIVE)),
    ]
    day = T0.date()
    assert daily_users(timed) == {
        (day, "click", "US", "alice"),
        (day, "page_view", "US", "alice"),
        (day, "click", "GB", "alice"),
        (day, "click", "US", "bob"),
        (day + timedelta(days=1), "click", "US", "alice"),
    }


# --- folds are additive -----------------------------------------------------------------


def _merge_totals(parts):
    out: dict = {}
    for part in parts:
        for key, totals in part.items():
            acc = out.setdefault(key, Totals())
            acc.events += totals.events
            acc.purchases += totals.purchases
            acc.revenue += totals.revenue
    return out


@st.composite
def timed_events(draw):
    event_type = draw(st.sampled_from(["page_view", "click", "purchase", "signup"]))
    overrides = {
        "user_id": draw(st.sampled_from(["alice", "bob", "carol"])),
        "country": draw(st.sampled_from(["US", "JP", "IN", "DE"])),
        "device": draw(st.sampled_from(["mobile", "desktop", "tv"])),
    }
    if event_type == "purchase":
        cents = draw(st.integers(min_value=0, max_value=100_000))
        overrides["value"] = str(Decimal(cents) / 100)
    # within ~3 days, at second resolution with some sub-second noise, in assorted offsets
    offset = timedelta(
        seconds=draw(st.integers(min_value=-86_400, max_value=2 * 86_400)),
        microseconds=draw(st.sampled_from([0, 1, 500_000, 999_999])),
    )
    zone = draw(st.sampled_from([UTC, MINUS_FIVE, PLUS_0530]))
    return make_event(event_type, **overrides), (T0 + offset).astimezone(zone)


@st.composite
def events_and_split(draw):
    timed = draw(st.lists(timed_events(), max_size=25))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(timed)), max_size=5)))
    bounds = [0, *cuts, len(timed)]
    chunks = [timed[a:b] for a, b in pairwise(bounds)]
    return timed, chunks


@settings(max_examples=150, deadline=None)
@given(events_and_split())
def test_minute_windows_of_a_whole_batch_equal_the_sum_over_any_split(case):
    timed, chunks = case
    assert minute_windows(timed) == _merge_totals(minute_windows(chunk) for chunk in chunks)


@settings(max_examples=150, deadline=None)
@given(events_and_split())
def test_daily_totals_of_a_whole_batch_equal_the_sum_over_any_split(case):
    timed, chunks = case
    assert daily_totals(timed) == _merge_totals(daily_totals(chunk) for chunk in chunks)


@settings(max_examples=100, deadline=None)
@given(events_and_split())
def test_rate_buckets_and_user_sets_of_a_whole_batch_equal_the_union_over_any_split(case):
    timed, chunks = case
    summed: dict = {}
    for chunk in chunks:
        for bucket, count in rate_buckets(chunk).items():
            summed[bucket] = summed.get(bucket, 0) + count
    assert rate_buckets(timed) == summed
    assert minute_users(timed) == set().union(*(minute_users(chunk) for chunk in chunks))
    assert daily_users(timed) == set().union(*(daily_users(chunk) for chunk in chunks))


@settings(max_examples=100, deadline=None)
@given(st.lists(timed_events(), max_size=25))
def test_every_event_counts_once_in_each_dimension(timed):
    windows = minute_windows(timed)
    for dimension in ("all", "event_type", "country", "device"):
        per_dimension = [t for (_, dim, _), t in windows.items() if dim == dimension]
        assert sum(t.events for t in per_dimension) == len(timed)
        assert sum(t.revenue for t in per_dimension) == sum(
            (e.value for e, _ in timed if e.event_type == "purchase"), Decimal(0)
        )
    assert sum(rate_buckets(timed).values()) == len(timed)


# --- aggregate: every delta of a batch in one pass ---------------------------------------


def test_a_late_event_counts_in_its_day_but_in_no_minute_window_bucket_or_active_users():
    on_time, late = purchase("5.00", user_id="alice"), purchase("7.00", user_id="bob")
    deltas = aggregate([on_time, late], [T0, T0 + timedelta(seconds=30)], [False, True])

    assert deltas.daily == {(T0.date(), "purchase", "US"): Totals(2, 2, Decimal("12.00"))}
    assert deltas.daily_users == {(T0.date(), "purchase", "US", "alice"), (T0.date(), "purchase", "US", "bob")}
    assert deltas.minutes[(T0, "all", "all")] == Totals(1, 1, Decimal("5.00"))
    assert deltas.minute_users == {(T0, "alice")}
    assert deltas.rates == {T0: 1}


def test_a_batch_of_late_events_only_has_days_and_no_windows():
    deltas = aggregate([make_event("click")], [T0], [True])
    assert set(deltas.daily) == {(T0.date(), "click", "US")}
    assert (deltas.minutes, deltas.minute_users, deltas.rates) == ({}, set(), {})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(timed_events(), st.booleans()), max_size=25))
def test_aggregate_is_the_days_of_every_event_and_the_windows_of_the_on_time_ones(case):
    timed = [pair for pair, _ in case]
    on_time = [pair for pair, late in case if not late]
    deltas = aggregate([e for e, _ in timed], [t for _, t in timed], [late for _, late in case])

    assert deltas.daily == daily_totals(timed)
    assert deltas.daily_users == daily_users(timed)
    assert deltas.minutes == minute_windows(on_time)
    assert deltas.minute_users == minute_users(on_time)
    assert deltas.rates == rate_buckets(on_time)
