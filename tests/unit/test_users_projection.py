"""The `users` projection: folding events into profiles, and merging profiles."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.users import User, UserActivity, history_before, merge_user, user_activity
from tests.factories import T0, make_event, money


def at(minutes: int, *, tz: timezone | None = None) -> str:
    moment = T0 + timedelta(minutes=minutes)
    return (moment.astimezone(tz) if tz else moment).isoformat()


def profile(
    user_id: str = "u1",
    *,
    first: int = 0,
    last: int = 0,
    events: int = 1,
    purchases: int = 0,
    spent: str = "0",
    country: str = "US",
    **extra,
) -> User:
    return User(
        user_id=user_id,
        first_seen=T0 + timedelta(minutes=first),
        last_seen=T0 + timedelta(minutes=last),
        total_events=events,
        total_purchases=purchases,
        total_spent=Decimal(spent),
        country=country,
        **extra,
    )


def activity(user_id: str = "u1", **fields) -> UserActivity:
    """The partial profile `profile(...)` describes, as `user_activity` returns it."""
    return UserActivity(**profile(user_id, **fields).model_dump(exclude={"metadata"}))


# --- user_activity ---------------------------------------------------------------------


def test_no_events_make_no_profiles():
    assert user_activity([]) == {}


def test_single_event_makes_a_profile_seen_once():
    event = make_event("page_view", user_id="u1", timestamp=at(5), country="DE")

    users = user_activity([event])

    assert users == {"u1": activity(first=5, last=5, country="DE")}


def test_activity_counts_events_and_purchases_and_sums_what_was_spent():
    events = [
        make_event("page_view", user_id="u1", timestamp=at(0)),
        make_event("purchase", user_id="u1", timestamp=at(1), value="19.99"),
        make_event("click", user_id="u1", timestamp=at(2)),
        make_event("purchase", user_id="u1", timestamp=at(3), value="0.01"),
        make_event("logout", user_id="u1", timestamp=at(4)),
    ]

    user = user_activity(events)["u1"]

    assert user.total_events == 5
    assert user.total_purchases == 2
    assert user.total_spent == money("20.00")
    assert isinstance(user.total_spent, Decimal)


def test_value_on_an_event_that_is_not_a_purchase_is_not_spent():
    events = [
        make_event("page_view", user_id="u1", value="50.00"),
        make_event("purchase", user_id="u1", value="5.00"),
    ]

    user = user_activity(events)["u1"]

    assert user.total_purchases == 1
    assert user.total_spent == money("5.00")


def test_user_without_purchases_has_spent_zero():
    user = user_activity([make_event("login", user_id="u1")])["u1"]

    assert user.total_purchases == 0
    assert user.total_spent == 0


def test_first_and_last_seen_are_by_timestamp_not_stream_order():
    events = [
        make_event(user_id="u1", timestamp=at(10)),
        make_event(user_id="u1", timestamp=at(2)),
        make_event(user_id="u1", timestamp=at(30)),
        make_event(user_id="u1", timestamp=at(20)),
    ]

    user = user_activity(events)["u1"]

    assert user.first_seen == T0 + timedelta(minutes=2)
    assert user.last_seen == T0 + timedelta(minutes=30)


def test_country_is_that_of_the_latest_event_even_when_it_arrived_early():
    events = [
        make_event(user_id="u1", timestamp=at(10), country="FR"),
        make_event(user_id="u1", timestamp=at(5), country="DE"),  # late arrival, older
    ]

    assert user_activity(events)["u1"].country == "FR"


def test_country_follows_the_user_when_they_move():
    events = [
        make_event(user_id="u1", timestamp=at(1), country="FR"),
        make_event(user_id="u1", timestamp=at(2), country="DE"),
    ]

    assert user_activity(events)["u1"].country == "DE"


def test_timestamp_tie_goes_to_the_later_event_in_the_stream():
    events = [
        make_event(user_id="u1", timestamp=at(0), country="JP"),
        make_event(user_id="u1", timestamp=at(7), country="FR"),
        make_event(user_id="u1", timestamp=at(7), country="DE"),
        make_event(user_id="u1", timestamp=at(3), country="IT"),
    ]

    assert user_activity(events)["u1"].country == "DE"


def test_timestamp_tie_across_time_zones_is_still_a_tie():
    same_instant_elsewhere = at(7, tz=timezone(timedelta(hours=5, minutes=30)))
    events = [
        make_event(user_id="u1", timestamp=at(7), country="FR"),
        make_event(user_id="u1", timestamp=same_instant_elsewhere, country="IN"),
    ]

    user = user_activity(events)["u1"]

    assert user.country == "IN"
    assert user.last_seen == T0 + timedelta(minutes=7)


def test_each_user_gets_their_own_profile():
    events = [
        make_event("purchase", user_id="alice", timestamp=at(1), value="10.00", country="GB"),
        make_event("page_view", user_id="bob", timestamp=at(2), country="BR"),
        make_event("purchase", user_id="alice", timestamp=at(3), value="2.50", country="GB"),
    ]

    users = user_activity(events)

    assert set(users) == {"alice", "bob"}
    assert users["alice"] == activity("alice", first=1, last=3, events=2, purchases=2, spent="12.50", country="GB")
    assert users["bob"] == activity("bob", first=2, last=2, country="BR")


def test_activity_accepts_any_iterable_once():
    events = (make_event(user_id="u1") for _ in range(3))

    assert user_activity(events)["u1"].total_events == 3


# --- merge_user ------------------------------------------------------------------------


def test_merging_into_an_unknown_user_gives_the_activity():
    assert merge_user(None, activity(first=1, last=2, events=2)) == profile(first=1, last=2, events=2)


def test_merge_adds_counts_and_spend():
    known = profile(events=3, purchases=1, spent="10.00")
    merged = merge_user(known, activity(events=2, purchases=2, spent="5.55"))

    assert merged.total_events == 5
    assert merged.total_purchases == 3
    assert merged.total_spent == money("15.55")


def test_merge_widens_the_seen_window():
    known = profile(first=10, last=20)

    assert merge_user(known, activity(first=5, last=15)).first_seen == T0 + timedelta(minutes=5)
    assert merge_user(known, activity(first=5, last=15)).last_seen == T0 + timedelta(minutes=20)
    assert merge_user(known, activity(first=12, last=30)).first_seen == T0 + timedelta(minutes=10)
    assert merge_user(known, activity(first=12, last=30)).last_seen == T0 + timedelta(minutes=30)


def test_newer_activity_brings_its_country():
    merged = merge_user(profile(last=10, country="FR"), activity(first=11, last=12, country="DE"))

    assert merged.country == "DE"
    assert merged.last_seen == T0 + timedelta(minutes=12)


def test_late_activity_does_not_overwrite_the_current_country():
    merged = merge_user(profile(last=10, country="FR"), activity(first=1, last=5, country="DE"))

    assert merged.country == "FR"
    assert merged.last_seen == T0 + timedelta(minutes=10)


def test_activity_ending_at_the_same_instant_wins_the_tie():
    merged = merge_user(profile(last=10, country="FR"), activity(first=10, last=10, country="DE"))

    assert merged.country == "DE"


def test_merge_keeps_the_user_id_and_stored_metadata():
    known = profile("u1", metadata={"plan": "pro"})

    merged = merge_user(known, activity("u1", events=4))

    assert merged.user_id == "u1"
    assert merged.metadata == {"plan": "pro"}


def test_merge_does_not_change_its_inputs():
    known, partial = profile(events=1), activity(events=2)

    merge_user(known, partial)

    assert known.total_events == 1
    assert partial.total_events == 2


# --- property: folding in one go equals folding in chunks then merging ------------------

_TZS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))]


@st.composite
def events(draw):
    event_type = draw(
        st.sampled_from(["page_view", "click", "search", "video_watch", "purchase", "signup", "login", "logout"])
    )
    overrides = {
        "user_id": draw(st.sampled_from(["u1", "u2", "u3"])),
        # few distinct instants, in several zones, so ties are common
        "timestamp": at(draw(st.integers(0, 4)), tz=draw(st.sampled_from(_TZS))),
        "country": draw(st.sampled_from(["US", "FR", "DE", "JP"])),
    }
    if event_type == "purchase":
        value = draw(st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False))
        overrides["value"] = str(value)
    return make_event(event_type, **overrides)


def _fields(user: User | UserActivity) -> tuple:
    return tuple(getattr(user, name) for name in UserActivity._fields)


def fold_in_chunks(stream: list, cuts: list[int]) -> dict[str, User]:
    bounds = [0, *cuts, len(stream)]
    known: dict[str, User] = {}
    for start, end in pairwise(bounds):
        for user_id, activity in user_activity(stream[start:end]).items():
            known[user_id] = merge_user(known.get(user_id), activity)
    return known


@st.composite
def streams_and_cuts(draw):
    stream = draw(st.lists(events(), max_size=25))
    cuts = sorted(draw(st.sets(st.integers(0, len(stream)))))
    return stream, cuts


@settings(max_examples=200, deadline=None, database=None)
@given(streams_and_cuts())
def test_folding_in_one_go_equals_folding_chunks_then_merging_in_order(stream_and_cuts):
    stream, cuts = stream_and_cuts

    folded = {user_id: _fields(user) for user_id, user in fold_in_chunks(stream, cuts).items()}
    assert folded == {user_id: _fields(user) for user_id, user in user_activity(stream).items()}


def test_chunked_folding_property_sees_the_tie_rule():
    # A concrete instance of the property, where getting the tie wrong would show.
    stream = [
        make_event(user_id="u1", timestamp=at(3), country="FR"),
        make_event(user_id="u1", timestamp=at(3), country="DE"),
    ]

    assert fold_in_chunks(stream, [1]).get("u1").country == "DE"
    assert user_activity(stream)["u1"].country == "DE"


# --- history_before --------------------------------------------------------------------


def test_history_before_tells_a_first_timer_from_a_returning_buyer():
    first_timer = activity(events=2, purchases=1)
    assert history_before(profile(events=2, purchases=1), first_timer) == (False, False)
    assert history_before(profile(events=5, purchases=1), first_timer) == (True, False)
    assert history_before(profile(events=5, purchases=3), first_timer) == (True, True)
