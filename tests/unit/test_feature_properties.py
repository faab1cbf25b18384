"""Scoring features, properties over generated streams: no look-ahead, exact counts, resumable state."""

from __future__ import annotations

import pickle
from math import isfinite

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import PastEvent
from domain.features import as_dict, extract, observe
from tests.unit.feature_streams import build, run, step, within


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.lists(step, max_size=10))
def test_later_events_never_change_the_features_of_earlier_ones(steps, more):
    timed = build(steps + more)
    assert run(timed)[: len(steps)] == run(timed[: len(steps)])


@settings(max_examples=60, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.booleans())
def test_counts_match_a_brute_force_over_earlier_events(steps, in_order):
    timed = build(steps, in_order=in_order)
    state = None
    for e, when in timed:
        _, state = observe(state, e, when)
    assert all(t == sorted(t) for t in (state.times, state.purchase_times, state.click_times))
    for k, features in enumerate(run(timed)):
        upto = timed[: k + 1]  # the earlier-observed events and this one
        f = as_dict(features)
        assert f["events_last_1m"] == len(within(upto, 60))
        assert f["events_last_1h"] == len(within(upto, 3600))
        assert f["purchases_last_1m"] == len([e for e in within(upto, 60) if e.event_type == "purchase"])
        assert f["clicks_last_10s"] == len([e for e in within(upto, 10) if e.event_type == "click"])
        if in_order:
            assert f["countries_last_10m"] == len({e.country for e in within(upto, 600)})
        assert all(isfinite(x) for x in features)
        assert all(f[flag] in (0, 1) for flag in ("country_changed", "device_changed", "new_device", "new_country"))


@settings(max_examples=30, deadline=None)
@given(st.lists(step, min_size=2, max_size=25), st.data())
def test_a_stream_cut_anywhere_and_resumed_from_a_pickled_state_gives_the_same_features(steps, data):
    timed = build(steps)
    cut = data.draw(st.integers(1, len(timed) - 1))
    whole, _ = extract(timed)
    head, states = extract(timed[:cut])
    tail, _ = extract(timed[cut:], pickle.loads(pickle.dumps(states)))
    assert head + tail == whole
    assert extract(timed)[0] == whole  # deterministic


@settings(max_examples=30, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_a_state_rebuilt_from_stored_past_events_is_the_state_the_events_built(steps):
    timed = build(steps)
    _, from_events = extract(timed)
    _, from_store = extract([(PastEvent.of(e), when) for e, when in timed])  # as `recent_by_user` gives them
    assert from_store == from_events
