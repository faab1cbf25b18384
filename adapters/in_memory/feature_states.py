"""Users' saved feature states in the in-memory store: the fake of `FeatureStateRepository`.

Where Postgres tells the events stored after a save by transaction times, the fake marks each
save with how many events were stored then; events are kept in the order stored."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime

from adapters.in_memory.state import InMemoryState, SavedFeatureState
from application.messages import ReceivedEvent
from application.ports.event_store import SavedFeatureStates, StaleFeatureState
from domain.events import PastEvent
from domain.features import UserFeatureState


def latest_by_user(
    state: InMemoryState, user_ids: Iterable[str], limit: int
) -> dict[str, list[tuple[int, ReceivedEvent]]]:
    """Each user's `limit` latest events by event time, in the order stored, with their positions
    in that order (the Postgres store's transaction time and log offset)."""
    wanted = set(user_ids)
    by_user: dict[str, list[tuple[int, ReceivedEvent]]] = {}
    for position, received in enumerate(state.events.values()):  # in the order stored
        if received.event.user_id in wanted:
            by_user.setdefault(received.event.user_id, []).append((position, received))
    out = {}
    for user_id, stored in by_user.items():
        by_time = sorted(stored, key=lambda pr: (pr[1].event_time, pr[1].event.event_id))
        out[user_id] = sorted(by_time[-limit:]) if limit > 0 else []  # back in the order stored
    return out


def past(received: ReceivedEvent) -> tuple[PastEvent, datetime]:
    return PastEvent.of(received.event), received.event_time


class InMemoryFeatureStates:
    def __init__(self, state: InMemoryState) -> None:
        self._state = state

    def read(self, user_ids: Sequence[str], catch_up: int) -> SavedFeatureStates:
        whole, lacking, known = {}, {}, set()
        for user_id in user_ids:
            saved, user = self._state.feature_states.get(user_id), self._state.users.get(user_id)
            if user is None:
                continue
            known.add(user_id)
            if saved is not None and saved.events_total == user.total_events:
                whole[user_id] = copy.deepcopy(saved.state)  # the caller updates states in place
            elif saved is not None and 0 < user.total_events - saved.events_total <= catch_up:
                lacking[user_id] = (saved, user.total_events - saved.events_total)
        latest = latest_by_user(self._state, lacking, catch_up)
        stale = {}
        for user_id, (saved, missing) in lacking.items():
            since = [past(r) for position, r in latest.get(user_id, ()) if position >= saved.stored_before]
            if len(since) == missing:
                stale[user_id] = StaleFeatureState(copy.deepcopy(saved.state), since)
        return SavedFeatureStates(whole, stale, set(user_ids) - known)

    def save(self, states: Sequence[tuple[str, int, UserFeatureState]]) -> None:
        stored = len(self._state.events)
        for user_id, events_total, state in states:
            self._state.feature_states[user_id] = SavedFeatureState(events_total, copy.deepcopy(state), stored)
