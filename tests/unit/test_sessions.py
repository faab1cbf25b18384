"""Sessionization: islands of a user's event times, whatever order they arrive in."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.sessions import DEFAULT_SESSION_GAP, Placement, Session, place_in_sessions
from tests.factories import T0

GAP = DEFAULT_SESSION_GAP


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def session(start: float, end: float, events: int, user: str = "u1") -> Session:
    return Session(user_id=user, start=at(start), end=at(end), events=events)


# --- Session ------------------------------------------------------------------------------


def test_a_one_event_session_is_a_bounce_with_zero_duration():
    single = session(0, 0, 1)
    assert single.bounce
    assert single.duration == timedelta(0)


def test_a_session_of_several_events_is_not_a_bounce_and_lasts_from_start_to_end():
    assert not session(0, 1, 2).bounce
    longer = session(0, 12.5, 3)
    assert not longer.bounce
    assert longer.duration == timedelta(minutes=12, seconds=30)


def test_default_session_gap_is_thirty_minutes():
    assert GAP == timedelta(minutes=30)


# --- opening and extending ------------------------------------------------------------------


def test_the_first_event_of_a_user_opens_a_session():
    changes = place_in_sessions({}, [("u1", at(0))])
    assert changes.placements == [Placement(at(0), 1)]
    assert changes.upserts == [session(0, 0, 1)]
    assert changes.deleted == []


def test_events_within_the_gap_extend_the_session_and_number_its_events():
    changes = place_in_sessions({}, [("u1", at(0)), ("u1", at(10)), ("u1", at(35))])
    assert changes.placements == [Placement(at(0), 1), Placement(at(0), 2), Placement(at(0), 3)]
    assert changes.upserts == [session(0, 35, 3)]
    assert changes.deleted == []


def test_an_event_exactly_one_gap_after_the_end_joins_the_session():
    changes = place_in_sessions({}, [("u1", at(0)), ("u1", at(30))])
    assert changes.upserts == [session(0, 30, 2)]
    assert changes.placements[-1] == Placement(at(0), 2)


def test_an_event_beyond_the_gap_opens_a_new_session():
    just_beyond = at(30) + timedelta(microseconds=1)
    changes = place_in_sessions({}, [("u1", at(0)), ("u1", just_beyond)])
    assert changes.placements == [Placement(at(0), 1), Placement(just_beyond, 1)]
    assert changes.upserts == [session(0, 0, 1), Session(user_id="u1", start=just_beyond, end=just_beyond, events=1)]


def test_a_new_event_extends_a_known_session_which_is_upserted_under_the_same_start():
    known = {"u1": [session(0, 10, 4)]}
    changes = place_in_sessions(known, [("u1", at(25))])
    assert changes.placements == [Placement(at(0), 5)]
    assert changes.upserts == [session(0, 25, 5)]
    assert changes.deleted == []


def test_a_session_counts_events_at_the_same_moment_separately():
    changes = place_in_sessions({}, [("u1", at(5)), ("u1", at(5))])
    assert changes.placements == [Placement(at(5), 1), Placement(at(5), 2)]
    assert changes.upserts == [session(5, 5, 2)]


# --- out-of-order events --------------------------------------------------------------------


def test_an_event_between_two_sessions_within_the_gap_of_both_merges_them():
    known = {"u1": [session(0, 20, 3), session(70, 90, 2)]}

    changes = place_in_sessions(known, [("u1", at(45))])

    assert changes.placements == [Placement(at(0), 6)]
    assert changes.upserts == [session(0, 90, 6)]
    assert changes.deleted == [("u1", at(70))]


def test_an_event_before_a_session_within_the_gap_moves_its_start():
    known = {"u1": [session(60, 80, 2)]}

    changes = place_in_sessions(known, [("u1", at(40))])

    assert changes.placements == [Placement(at(40), 3)]
    assert changes.upserts == [session(40, 80, 3)]
    assert changes.deleted == [("u1", at(60))]


def test_an_event_exactly_one_gap_before_a_session_joins_it():
    changes = place_in_sessions({"u1": [session(60, 60, 1)]}, [("u1", at(30))])
    assert changes.upserts == [session(30, 60, 2)]
    assert changes.deleted == [("u1", at(60))]


def test_an_event_inside_a_known_session_keeps_its_bounds_and_adds_an_event():
    changes = place_in_sessions({"u1": [session(0, 20, 2)]}, [("u1", at(7))])
    assert changes.upserts == [session(0, 20, 3)]
    assert changes.deleted == []


def test_a_batch_bridging_two_sessions_it_opened_itself_reports_only_the_merged_one():
    changes = place_in_sessions({}, [("u1", at(0)), ("u1", at(50)), ("u1", at(25))])
    assert changes.placements == [Placement(at(0), 1), Placement(at(50), 1), Placement(at(0), 3)]
    assert changes.upserts == [session(0, 50, 3)]
    assert changes.deleted == []  # the 50-minute session was never stored


def test_an_event_far_from_known_sessions_opens_its_own_between_them():
    known = {"u1": [session(0, 0, 1), session(200, 200, 1)]}
    changes = place_in_sessions(known, [("u1", at(100))])
    assert changes.placements == [Placement(at(100), 1)]
    assert changes.upserts == [session(100, 100, 1)]
    assert changes.deleted == []


# --- users and unchanged sessions -------------------------------------------------------------


def test_sessions_of_different_users_never_mix():
    changes = place_in_sessions({"u1": [session(0, 10, 2)]}, [("u2", at(5)), ("u1", at(15)), ("u2", at(6))])

    assert changes.placements == [Placement(at(5), 1), Placement(at(0), 3), Placement(at(5), 2)]
    assert sorted(changes.upserts, key=lambda s: s.user_id) == [session(0, 15, 3, "u1"), session(5, 6, 2, "u2")]
    assert changes.deleted == []


def test_known_sessions_left_unchanged_are_neither_upserted_nor_deleted():
    known = {
        "u1": [session(0, 10, 2), session(100, 110, 2)],
        "u2": [session(0, 5, 1, "u2")],
    }
    changes = place_in_sessions(known, [("u1", at(120))])
    assert changes.upserts == [session(100, 120, 3)]
    assert changes.deleted == []


def test_no_events_change_nothing():
    changes = place_in_sessions({"u1": [session(0, 10, 2)]}, [])
    assert changes.placements == []
    assert changes.upserts == []
    assert changes.deleted == []


def test_a_custom_gap_decides_what_joins():
    five = timedelta(minutes=5)
    changes = place_in_sessions({}, [("u1", at(0)), ("u1", at(5)), ("u1", at(11))], gap=five)
    assert changes.upserts == [session(0, 5, 2), session(11, 11, 1)]


# --- islands do not depend on arrival order or batching ----------------------------------------


def islands(times: list[datetime], gap: timedelta = GAP) -> list[tuple[datetime, datetime, int]]:
    """Reference: sort the times and split wherever consecutive times differ by more than gap."""
    out: list[list] = []
    for moment in sorted(times):
        if out and moment - out[-1][1] <= gap:
            out[-1][1] = moment
            out[-1][2] += 1
        else:
            out.append([moment, moment, 1])
    return [tuple(island) for island in out]


def test_reference_islands_split_only_beyond_the_gap():
    assert islands([at(0), at(30), at(61), at(200), at(80)]) == [
        (at(0), at(30), 2),
        (at(61), at(80), 2),
        (at(200), at(200), 1),
    ]


@st.composite
def batched_points(draw):
    points = draw(
        st.lists(
            st.tuples(st.sampled_from(["u1", "u2"]), st.integers(min_value=0, max_value=4 * 60)),
            min_size=1,
            max_size=30,
        )
    )
    order = draw(st.permutations(points))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(order)), max_size=6)))
    bounds = [0, *cuts, len(order)]
    batches = [[(user, at(minute)) for user, minute in order[a:b]] for a, b in pairwise(bounds)]
    load_all = draw(st.booleans())
    return points, batches, load_all


@settings(max_examples=200, deadline=None)
@given(batched_points())
def test_sessions_built_batch_by_batch_in_any_order_equal_the_islands_of_the_times(case):
    points, batches, load_all = case
    stored: dict[str, dict[datetime, Session]] = {}

    for batch in batches:
        if load_all:
            known = {user: list(by_start.values()) for user, by_start in stored.items()}
        else:  # what the store loads: the batch's users' sessions within gap of a new point
            known = {
                user: [
                    s
                    for s in stored.get(user, {}).values()
                    if any(u == user and s.start - GAP <= t <= s.end + GAP for u, t in batch)
                ]
                for user in {u for u, _ in batch}
            }
        changes = place_in_sessions(known, batch)

        assert len(changes.placements) == len(batch)
        for (_, moment), placement in zip(batch, changes.placements, strict=True):
            assert placement.session_start <= moment
            assert placement.event_number >= 1
        for user, start in changes.deleted:
            assert start in stored.get(user, {}), "only stored sessions are deleted"
            del stored[user][start]
        for s in changes.upserts:
            stored.setdefault(s.user_id, {})[s.start] = s

    for user in {u for u, _ in points}:
        expected = islands([at(minute) for u, minute in points if u == user])
        actual = sorted((s.start, s.end, s.events) for s in stored.get(user, {}).values())
        assert actual == expected
    assert all(s.user_id == user for user, by_start in stored.items() for s in by_start.values())
