"""The users' feature states one partition's scorer holds: read, updated, saved, forgotten.

A user not in memory (first seen by this process, or evicted) takes their saved state if it
holds all their stored events (`FeatureStateRepository.read`); if it lacks the last few (the
process stopped before saving it again: a crash), it is brought up to date with just those;
else it is rebuilt from their most recent stored events, unless they have none. So a restart
does not make every device and country look new, nor every user look like a first-timer.
Rebuilding costs ~15 µs per stored event, which after a restart is every active user's whole
recent past at once; reading a saved state costs one row, and catching one up only the events
it lacks. So a changed state is saved with a batch once it has gone `save_after_s` unsaved
(at most `saved_per_batch` of them a batch, so a burst spreads), and all of them when asked
(a partition closing). A state evicted from memory (more than `in_memory` users) is saved
with the batch that evicted it, so the user's return reads one row too.

A state is saved with the count of the user's stored events it holds, as the users projection
counted them in the batch (`stored`); a user scored but not counted since is not saved. If a
unit of work rolls back, its users' states are forgotten (read again when they return) and the
states it saved count as unsaved again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence

from application.messages import ReceivedEvent
from application.ports.event_store import UnitOfWork
from domain.features import Features, UserFeatureState, observe

LOADED_AS = ("saved", "caught_up", "rebuilt", "new")  # how a user's state came into memory


class UserStates:
    """One partition's users' feature states, least recently seen first; one writer thread uses it."""

    def __init__(self, *, in_memory: int, history: int, save_after_s: float, saved_per_batch: int) -> None:
        self._in_memory = in_memory
        self._history = history
        self._save_after_s = save_after_s
        self._saved_per_batch = saved_per_batch
        self._states: OrderedDict[str, UserFeatureState] = OrderedDict()
        self._touched: set[str] = set()  # users observed since the last commit
        self._unsaved: OrderedDict[str, float] = OrderedDict()  # user -> when first changed since saved
        self._totals: dict[str, int] = {}  # user -> stored events, as the last batch storing theirs counted
        self._saving: list[tuple[str, float]] = []  # saved in the current unit of work
        # Unsaved when evicted, saved with the next save; still true after a rollback, which only
        # undoes what the failed batch's own users learned.
        self._evicted: list[tuple[str, int, UserFeatureState]] = []

    def __len__(self) -> int:
        return len(self._states)

    def load(self, uow: UnitOfWork, user_ids: Iterable[str]) -> dict[str, int]:
        """Give each of `user_ids` not in memory its state: saved, saved and caught up, or rebuilt
        from the store (new: nothing stored yet). How many users each way (`LOADED_AS`)."""
        states = self._states
        missing = [u for u in user_ids if u not in states]
        if not missing:
            return {}
        saved = uow.feature_states.read(missing, self._history)
        states.update(saved.whole)
        for user_id, (state, since) in saved.stale.items():  # saved before their last events were stored
            for event, event_time in since:
                observe(state, event, event_time)
            states[user_id] = state
        for user_id in saved.unknown:  # nothing stored yet
            states[user_id] = UserFeatureState()
        missing = [u for u in missing if u not in states]
        history = uow.events.recent_by_user(missing, self._history) if missing and self._history else {}
        for user_id in missing:
            state: UserFeatureState | None = None
            for event, event_time in history.get(user_id, ()):
                _, state = observe(state, event, event_time)
            states[user_id] = state if state is not None else UserFeatureState()
        loaded = {"saved": len(saved.whole), "caught_up": len(saved.stale), "rebuilt": len(history)}
        loaded["new"] = len(saved.unknown) + len(missing) - len(history)
        return {how: count for how, count in loaded.items() if count}

    def observe(self, fresh: Sequence[ReceivedEvent], users: set[str], now: float) -> list[Features]:
        """Each event's features, in log order; every user of `fresh` (`users`) has been `load`ed
        and is updated in place. `now` (monotonic) is when their states changed."""
        states, unsaved, totals = self._states, self._unsaved, self._totals
        out = []
        append = out.append
        for received in fresh:
            event = received.event
            append(observe(states[event.user_id], event, received.timing.event_time)[0])
        self._touched |= users
        for user_id in users:  # this batch's users are now the most recently seen, and changed
            states.move_to_end(user_id)
            if user_id not in unsaved:
                unsaved[user_id] = now
            totals.pop(user_id, None)  # unknown until `stored`
        while len(states) > self._in_memory:  # the least recently seen go; they are read again on return
            user_id, state = states.popitem(last=False)
            total = totals.pop(user_id, None)
            if unsaved.pop(user_id, None) is not None and total is not None:
                self._evicted.append((user_id, total, state))
        return out

    def stored(self, totals: Mapping[str, int]) -> None:
        """Each user's stored events once this batch's are stored: the count their state holds."""
        states, known = self._states, self._totals
        for user_id, total in totals.items():
            if user_id in states:  # not one evicted meanwhile
                known[user_id] = total

    def save(self, uow: UnitOfWork, now: float, *, everything: bool = False) -> int:
        """Save with `uow` the states evicted since the last save, and those unsaved for `save_after_s`
        by `now` (monotonic), oldest first and at most `saved_per_batch` of them; with `everything`,
        all unsaved states. How many were saved."""
        unsaved, states, totals = self._unsaved, self._states, self._totals
        # One row per user: a state evicted and since read back and changed is saved as it is now.
        rows = {user_id: (total, state) for user_id, total, state in self._evicted}
        self._evicted.clear()
        chosen, limit = 0, len(unsaved) if everything else self._saved_per_batch
        changed_before = now - self._save_after_s
        while unsaved and chosen < limit:
            user_id = next(iter(unsaved))
            if not everything and unsaved[user_id] > changed_before:
                break
            since = unsaved.pop(user_id)
            state, total = states.get(user_id), totals.get(user_id)
            if state is None or total is None:  # its count unknown: read again from the store when it returns
                continue
            rows[user_id] = (total, state)
            self._saving.append((user_id, since))
            chosen += 1
        uow.feature_states.save([(user_id, total, state) for user_id, (total, state) in rows.items()])
        return len(rows)

    def committed(self) -> None:
        self._touched.clear()
        self._saving.clear()

    def rolled_back(self) -> None:
        for user_id in self._touched:
            self._states.pop(user_id, None)
            self._unsaved.pop(user_id, None)
            self._totals.pop(user_id, None)
        for user_id, since in self._saving:
            if user_id in self._states:
                self._unsaved.setdefault(user_id, since)
        self._saving.clear()
        self._touched.clear()
