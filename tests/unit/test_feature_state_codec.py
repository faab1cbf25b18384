"""Users' feature states as Postgres saves them: what is read back scores the next event alike."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.postgres.feature_states import FORMAT, decode, encode
from domain.events import Device
from domain.features import UserFeatureState, extract
from tests.unit.feature_streams import build, step


@settings(max_examples=40, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.lists(step, min_size=1, max_size=10))
def test_a_stream_resumed_from_a_decoded_state_gives_the_same_features(steps, more):
    timed = build(steps + more)
    whole, _ = extract(timed)
    head, states = extract(timed[: len(steps)])
    restored = {user_id: decode(encode(state)) for user_id, state in states.items()}
    assert restored == states
    tail, _ = extract(timed[len(steps) :], restored)
    assert head + tail == whole


def test_a_decoded_state_holds_the_same_types_as_a_live_one():
    timed = build([("purchase", 1.0, 0.0, "US", "mobile", 1, 999), ("click", 5.0, 0.0, "FR", "desktop", 2, 0)])
    _, states = extract(timed)
    (state,) = states.values()
    again = decode(encode(state))
    assert again is not None
    assert all(type(d) is Device for d in again.devices) and type(again.previous_device) is Device
    assert again.amounts.maxlen == state.amounts.maxlen and again.amount_times.maxlen == state.amount_times.maxlen
    assert again.session_id == state.session_id


def test_a_first_timers_empty_state_round_trips():
    assert decode(encode(UserFeatureState())) == UserFeatureState()


def test_bytes_of_another_format_or_not_a_state_read_as_none():
    older = msgspec.msgpack.decode(encode(UserFeatureState()))
    older[0] = FORMAT + 1
    assert decode(msgspec.msgpack.encode(older)) is None
    assert decode(b"not msgpack at all") is None
    assert decode(msgspec.msgpack.encode([FORMAT, "times?"])) is None
    unknown_device = msgspec.msgpack.decode(encode(UserFeatureState(devices={Device("mobile")})))
    unknown_device[8] = ["smart fridge"]
    assert decode(msgspec.msgpack.encode(unknown_device)) is None
