"""Users' feature states in Postgres: one MessagePack array per user, in the batch's transaction.

A state is read back as whole only while it holds all of the user's stored events: the count
saved with it must still be the user's `total_events`, which the same transactions keep. One
that lacks some comes with the events stored after it, found by the transaction times they and
it were written at. A row of an older format, or one that no longer decodes, reads as no saved
state, and the scorer rebuilds that user from their stored events as it would without one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from uuid import UUID

import msgspec

from adapters.postgres import sql
from adapters.postgres.engine import translated_errors
from adapters.postgres.repositories import past_events_by_user
from adapters.postgres.staging import CopyingRepository, text_array
from application.ports.event_store import SavedFeatureStates, StaleFeatureState
from domain.events import Device
from domain.features import MAX_AMOUNTS, UserFeatureState

FORMAT = 1  # bump when `UserFeatureState` changes: older rows then read as absent


class _Saved(msgspec.Struct, array_like=True, frozen=True):
    """`UserFeatureState` as `encode` lays it out; decoding checks every type."""

    format: int
    times: list[int]
    purchase_times: list[int]
    click_times: list[int]
    amounts: list[float]
    amount_times: list[int]
    newest_purchase: int
    countries: list[tuple[str, int]]
    devices: list[Device]
    previous_time: int | None
    previous_country: str
    previous_device: Device | None
    elsewhere_time: int | None
    session_id: UUID | None
    session_start: int
    session_events: int


_encoder = msgspec.msgpack.Encoder(uuid_format="bytes")
_decoder = msgspec.msgpack.Decoder(_Saved)


def encode(state: UserFeatureState) -> bytes:
    s = state
    return _encoder.encode(
        (
            FORMAT, s.times, s.purchase_times, s.click_times, list(s.amounts), list(s.amount_times),
            s.newest_purchase, list(s.countries.items()), list(s.devices), s.previous_time, s.previous_country,
            s.previous_device or None, s.elsewhere_time, s.session_id, s.session_start, s.session_events,
        )
    )  # fmt: skip


def decode(data: bytes) -> UserFeatureState | None:
    """The state saved as `data`; None if it is of another format or does not decode."""
    try:
        saved = _decoder.decode(data)
    except msgspec.DecodeError:  # ValidationError included
        return None
    if saved.format != FORMAT:
        return None
    return UserFeatureState(
        times=saved.times,
        purchase_times=saved.purchase_times,
        click_times=saved.click_times,
        amounts=deque(saved.amounts, maxlen=MAX_AMOUNTS),
        amount_times=deque(saved.amount_times, maxlen=MAX_AMOUNTS),
        newest_purchase=saved.newest_purchase,
        countries=dict(saved.countries),
        devices=set(saved.devices),
        previous_time=saved.previous_time,
        previous_country=saved.previous_country,
        previous_device=saved.previous_device or "",
        elsewhere_time=saved.elsewhere_time,
        session_id=saved.session_id,
        session_start=saved.session_start,
        session_events=saved.session_events,
    )


class PostgresFeatureStateRepository(CopyingRepository):
    def read(self, user_ids: Sequence[str], catch_up: int) -> SavedFeatureStates:
        if not user_ids:
            return SavedFeatureStates({}, {}, set())
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.READ_FEATURE_STATES, (max(catch_up, 0), text_array(list(user_ids))))
            rows = cur.fetchall()
            known = {user_id for user_id, *_ in rows}
            # A state comes only when usable (whole, or at most `catch_up` behind); one that does
            # not decode (another format) counts as none.
            saved = [(user_id, lacking, at, decode(data)) for user_id, lacking, at, data in rows if data is not None]
            readable = [(user_id, lacking, at, state) for user_id, lacking, at, state in saved if state is not None]
            whole = {user_id: state for user_id, lacking, _, state in readable if lacking == 0}
            stale = {user_id: (lacking, at, state) for user_id, lacking, at, state in readable if lacking > 0}
            since = {}
            if stale:
                cur.execute(
                    sql.EVENTS_STORED_SINCE,
                    (text_array(list(stale)), [at for _, at, _ in stale.values()], catch_up),
                )
                since = past_events_by_user(cur.fetchall())
        caught_up = {
            user_id: StaleFeatureState(state, since[user_id])
            for user_id, (lacking, _, state) in stale.items()
            if len(since.get(user_id, ())) == lacking
        }
        return SavedFeatureStates(whole, caught_up, set(user_ids) - known)

    def save(self, states: Sequence[tuple[str, int, UserFeatureState]]) -> None:
        if not states:
            return
        columns = ([u for u, _, _ in states], [n for _, n, _ in states], [encode(s) for _, _, s in states])
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.SAVE_FEATURE_STATES, columns)
