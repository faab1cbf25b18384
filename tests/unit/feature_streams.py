"""Hand-made event streams of one user for the feature tests: examples and hypothesis steps."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import strategies as st

from domain.features import INDEX, Features, observe
from tests.factories import T0, make_event

US = timedelta(microseconds=1)
SESSION = str(uuid.UUID(int=1, version=4))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def event(kind: str = "page_view", seconds: float = 0, **overrides):
    """An event of user u1 at T0 + seconds, in one session unless told otherwise."""
    when = overrides.pop("when", at(seconds))
    fields = {"user_id": "u1", "session_id": SESSION, "timestamp": when.isoformat(), **overrides}
    return make_event(kind, **fields), when


def run(timed) -> list[Features]:
    """Features of one user's events, observed in the order given."""
    state, out = None, []
    for e, when in timed:
        features, state = observe(state, e, when)
        out.append(features)
    return out


def feature(features: Features, name: str) -> float:
    return features[INDEX[name]]


def last(timed, name: str) -> float:
    return feature(run(timed)[-1], name)


def purchases(*values: str, every: float = 60):
    return [event("purchase", i * every, value=v) for i, v in enumerate(values)]


KINDS = ["page_view", "click", "purchase", "login", "search"]
step = st.tuples(
    st.sampled_from(KINDS),
    st.floats(0, 90),  # seconds after the previous event's base time
    st.one_of(st.just(0.0), st.floats(0, 2), st.floats(0, 120)),  # seconds behind its base time: out of order
    st.sampled_from(["US", "FR", "DE"]),
    st.sampled_from(["mobile", "desktop"]),
    st.integers(1, 2),  # session
    st.integers(0, 50_000),  # cents
)


SESSIONS = {n: str(uuid.UUID(int=n, version=4)) for n in (1, 2)}


def within(timed, seconds: float):
    """Events of `timed` stamped at most `seconds` before the last one's time, and not after it."""
    now = timed[-1][1]
    return [e for e, t in timed if timedelta(0) <= now - t <= timedelta(seconds=seconds)]


def build(steps, *, in_order: bool = False):
    timed, base = [], 0.0
    for kind, gap, jitter, country, device, session, cents in steps:
        base += gap
        extra = {"value": f"{cents / 100:.2f}"} if kind == "purchase" else {}
        when = base if in_order else base - jitter
        timed.append(event(kind, when, country=country, device=device, session_id=SESSIONS[session], **extra))
    return timed
