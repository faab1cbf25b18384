"""Enrichment: local day and hour by country, first-seen and first-purchase flags, sessions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.enrichment import Enrichment, enrich, local_time
from domain.sessions import Placement
from domain.users import UserHistory
from tests.factories import T0, make_event

NOON_UTC = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # winter: no daylight saving in the north


def user(user_id: str = "u1", *, purchases: int = 0) -> UserHistory:
    """A user seen before, with `purchases` earlier purchases."""
    return UserHistory(seen=True, purchased=purchases > 0)


# --- local_time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "expected_day", "expected_hour"),
    [
        ("US", date(2026, 1, 15), 7),  # America/New_York, UTC-5 in January
        ("JP", date(2026, 1, 15), 21),  # Asia/Tokyo, UTC+9
        ("IN", date(2026, 1, 15), 17),  # Asia/Kolkata, UTC+5:30 -> 17:30
        ("GB", date(2026, 1, 15), 12),  # Europe/London, UTC+0 in winter
    ],
)
def test_local_time_uses_the_countrys_main_time_zone(country, expected_day, expected_hour):
    assert local_time(NOON_UTC, country) == (expected_day, expected_hour)


def test_local_time_follows_daylight_saving_in_summer():
    # New York is UTC-4 in July
    assert local_time(datetime(2026, 7, 15, 12, 0, tzinfo=UTC), "US") == (date(2026, 7, 15), 8)


def test_local_time_handles_a_half_hour_offset_at_the_hour_boundary():
    # Kolkata is UTC+5:30: 12:29 UTC is 17:59 local, 12:30 UTC is 18:00 local
    assert local_time(datetime(2026, 1, 15, 12, 29, tzinfo=UTC), "IN")[1] == 17
    assert local_time(datetime(2026, 1, 15, 12, 30, tzinfo=UTC), "IN")[1] == 18


def test_the_local_day_can_be_the_next_day_ahead_of_utc():
    late_utc = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert local_time(late_utc, "JP") == (date(2026, 1, 16), 5)


def test_the_local_day_can_be_the_previous_day_behind_utc():
    early_utc = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert local_time(early_utc, "US") == (date(2026, 1, 14), 22)


def test_the_local_day_crosses_midnight_at_a_half_hour_offset():
    assert local_time(datetime(2026, 1, 15, 18, 29, tzinfo=UTC), "IN") == (date(2026, 1, 15), 23)
    assert local_time(datetime(2026, 1, 15, 18, 30, tzinfo=UTC), "IN") == (date(2026, 1, 16), 0)


def test_a_country_without_a_known_zone_falls_back_to_utc():
    assert local_time(datetime(2026, 1, 15, 23, 45, tzinfo=UTC), "XX") == (date(2026, 1, 15), 23)


def test_local_time_does_not_depend_on_the_offset_the_event_time_is_written_in():
    moment = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert local_time(moment.astimezone(timezone(timedelta(hours=-8))), "JP") == local_time(moment, "JP")


# --- enrich: new users -------------------------------------------------------------------------


def test_only_the_first_event_of_an_unknown_user_is_a_new_user():
    events = [(make_event("page_view", user_id="new"), T0 + timedelta(seconds=i)) for i in range(3)]
    out = enrich(events, {"new": None}, [None, None, None])
    assert [e.is_new_user for e in out] == [True, False, False]


def test_a_user_missing_from_known_users_is_new_too():
    out = enrich([(make_event("click", user_id="stranger"), T0)], {}, [None])
    assert out[0].is_new_user is True


def test_events_of_a_known_user_are_never_new():
    events = [(make_event("page_view", user_id="u1"), T0), (make_event("click", user_id="u1"), T0)]
    out = enrich(events, {"u1": user("u1")}, [None, None])
    assert [e.is_new_user for e in out] == [False, False]


def test_new_user_flags_are_tracked_per_user_in_processing_order():
    events = [
        (make_event("click", user_id="a"), T0),
        (make_event("click", user_id="known"), T0),
        (make_event("click", user_id="b"), T0),
        (make_event("click", user_id="a"), T0),
        (make_event("click", user_id="b"), T0),
    ]
    out = enrich(events, {"a": None, "b": None, "known": user("known")}, [None] * 5)
    assert [e.is_new_user for e in out] == [True, False, True, False, False]


# --- enrich: first purchases -------------------------------------------------------------------


def test_only_the_first_purchase_of_a_user_without_purchases_is_a_first_purchase():
    events = [
        (make_event("page_view", user_id="u1"), T0),
        (make_event("purchase", user_id="u1"), T0 + timedelta(seconds=1)),
        (make_event("purchase", user_id="u1"), T0 + timedelta(seconds=2)),
    ]
    out = enrich(events, {"u1": None}, [None] * 3)
    assert [e.is_first_purchase for e in out] == [False, True, False]


def test_a_known_user_who_has_purchased_before_makes_no_first_purchase():
    out = enrich([(make_event("purchase", user_id="u1"), T0)], {"u1": user("u1", purchases=2)}, [None])
    assert out[0].is_first_purchase is False


def test_a_known_user_who_never_purchased_makes_a_first_purchase():
    out = enrich([(make_event("purchase", user_id="u1"), T0)], {"u1": user("u1", purchases=0)}, [None])
    assert out[0].is_first_purchase is True
    assert out[0].is_new_user is False


def test_first_purchases_are_tracked_per_user():
    events = [
        (make_event("purchase", user_id="a"), T0),
        (make_event("purchase", user_id="b"), T0),
        (make_event("purchase", user_id="a"), T0),
    ]
    out = enrich(events, {"a": None, "b": None}, [None] * 3)
    assert [e.is_first_purchase for e in out] == [True, True, False]


def test_events_other_than_purchases_are_never_first_purchases():
    events = [(make_event(kind, user_id="u1"), T0) for kind in ("page_view", "click", "signup", "search")]
    out = enrich(events, {"u1": None}, [None] * 4)
    assert not any(e.is_first_purchase for e in out)


# --- enrich: local time and sessions -----------------------------------------------------------


def test_enrich_takes_local_day_and_hour_from_the_event_time_and_country():
    event = make_event("click", country="JP", timestamp=T0.isoformat())
    event_time = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)  # not the event's own timestamp
    [out] = enrich([(event, event_time)], {}, [None])
    assert (out.local_day, out.local_hour) == (date(2026, 1, 16), 5)


def test_session_fields_come_from_the_placement():
    start = T0 - timedelta(minutes=4)
    [out] = enrich([(make_event("click"), T0)], {}, [Placement(start, 3)])
    assert out.session_start == start
    assert out.session_event_number == 3


def test_session_fields_are_none_without_a_placement():
    events = [(make_event("click"), T0), (make_event("click"), T0)]
    late, on_time = enrich(events, {}, [None, Placement(T0, 1)])
    assert late.session_start is None and late.session_event_number is None
    assert (on_time.session_start, on_time.session_event_number) == (T0, 1)


def test_enrich_returns_one_full_enrichment_per_event():
    event = make_event("purchase", user_id="u9", country="US")
    winter = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    assert enrich([(event, winter)], {"u9": None}, [Placement(winter, 1)]) == [
        Enrichment(
            local_day=date(2026, 1, 14),
            local_hour=22,
            is_new_user=True,
            is_first_purchase=True,
            session_start=winter,
            session_event_number=1,
        )
    ]


def test_enrich_requires_one_placement_per_event():
    with pytest.raises(ValueError):
        enrich([(make_event("click"), T0)], {}, [])
