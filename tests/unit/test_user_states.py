"""Users' feature states kept by a partition's scorer: saved when due and at close, read back
instead of replaying the users' past, caught up with the events stored after them, and never
trusted for more of those events than they hold."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork, _Events
from adapters.in_memory.feature_states import InMemoryFeatureStates
from application.scoring import ScoringRules
from application.user_states import LOADED_AS, UserStates
from domain.errors import StorageUnavailable
from domain.features import extract
from tests.unit.scoring_platform import BurstModel, Platform, batches, info, stream


class PastReads:
    """The users whose past events a scorer read back (to rebuild their states)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.users: set[str] = set()
        original = _Events.recent_by_user

        def spy(events, user_ids, limit):
            self.users.update(user_ids)
            return original(events, user_ids, limit)

        monkeypatch.setattr(_Events, "recent_by_user", spy)


class CatchUps:
    """The users whose stale saved states a scorer caught up, and with how many events in all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.users: set[str] = set()
        self.events = 0
        original = InMemoryFeatureStates.read

        def spy(repository, user_ids, catch_up):
            found = original(repository, user_ids, catch_up)
            self.users.update(found.stale)
            self.events += sum(len(stale.since) for stale in found.stale.values())
            return found

        monkeypatch.setattr(InMemoryFeatureStates, "read", spy)


class CommitFails(InMemoryUnitOfWork):
    def commit(self) -> None:
        raise StorageUnavailable("the server went away at commit")


class RowsSeen(BurstModel):
    """Keeps every row it scores: the features the scorer computed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[float, ...]] = []

    def score(self, batch):
        self.rows += batch
        return super().score(batch)


def platform(snapshot_every_s: float, **rules) -> Platform:
    made = Platform(rules=ScoringRules(model_poll_s=10, snapshot_every_s=snapshot_every_s, threshold=0.6, **rules))
    made.model = RowsSeen()
    made.registry.save(made.model, info())
    return made


def saved(p: Platform) -> dict[str, int]:
    return {user_id: saved.events_total for user_id, saved in p.state.feature_states.items()}


def totals(p: Platform) -> dict[str, int]:
    return {user_id: user.total_events for user_id, user in p.state.users.items()}


def assert_saved_states_are_whole(p: Platform) -> None:
    """Every saved state that claims all of its user's stored events is what those events build."""
    _, built = extract((r.event, r.timing.event_time) for r in p.state.events.values())  # in store order
    whole = {user_id for user_id, count in saved(p).items() if count == totals(p)[user_id]}
    assert whole
    for user_id in whole:
        assert p.state.feature_states[user_id].state == built[user_id]


def loaded_as(outcomes) -> dict[str, int]:
    """How the batches' users' states came into memory, in all (the worker metric's counts)."""
    total: Counter[str] = Counter()
    for outcome in outcomes:
        total.update(outcome.states_loaded)
    assert set(total) <= set(LOADED_AS)
    return dict(total)


def users_of(events) -> set[str]:
    return {r.event.user_id for r in events}


def test_a_restart_after_a_clean_stop_reads_saved_states_instead_of_the_users_past(monkeypatch):
    events = stream(400, seed=4)
    uninterrupted = platform(3600)
    for chunk in batches(events, 50):
        uninterrupted.record(chunk)

    restarted = platform(3600)
    for chunk in batches(events[:200], 50):
        restarted.record(chunk)
    assert saved(restarted) == {}  # not due for an hour
    restarted.recorder.save_scoring_state(0)  # the partition closes
    assert saved(restarted) == totals(restarted)
    assert_saved_states_are_whole(restarted)

    restarted.restart()
    reads = PastReads(monkeypatch)
    loaded = loaded_as([restarted.record(chunk) for chunk in batches(events[200:], 50)])
    assert not reads.users  # no user's past was read: saved ones read one row, new ones have none
    returning = users_of(events[:200]) & users_of(events[200:])
    assert loaded == {"saved": len(returning), "new": len(users_of(events[200:]) - returning)}
    assert restarted.scores(events) == uninterrupted.scores(events)
    assert restarted.trackers.restored == 1  # the online model was saved at close too


def crash_and_go_on(events, crash_at: int, *, history: int = 500, at_restart=lambda: None):
    """The same batches recorded by one platform that runs through and one killed after batch
    `crash_at` (nothing saved at close), restarted (`at_restart` is called) and run on; which
    users the killed one had saved whole, which stale, at its restart; how it loaded users since."""
    uninterrupted, crashed = platform(60, history_per_user=history), platform(60, history_per_user=history)
    current, stale, after = set(), set(), []
    for i, chunk in enumerate(batches(events, 50)):
        if i == crash_at:
            crashed.restart()
            at_restart()
            current = {u for u, count in saved(crashed).items() if count == totals(crashed)[u]}
            stale = set(saved(crashed)) - current
        uninterrupted.clock.t = crashed.clock.t = 20.0 * i
        uninterrupted.record(chunk)
        after.append(crashed.record(chunk))
    return uninterrupted, crashed, current, stale, loaded_as(after[crash_at:])


def test_after_a_crash_a_saved_state_missing_later_events_is_caught_up_with_just_those(monkeypatch):
    events = stream(400, seed=5)
    spies = []
    uninterrupted, crashed, current, stale, loaded = crash_and_go_on(
        events, 6, at_restart=lambda: spies.extend([PastReads(monkeypatch), CatchUps(monkeypatch)])
    )
    reads, catch_ups = spies
    assert current and stale
    came_back = stale & users_of(events[300:])
    assert catch_ups.users == came_back  # caught up, not rebuilt
    assert loaded["caught_up"] == len(came_back) and loaded["saved"] == len(current & users_of(events[300:]))
    never_saved = users_of(events[:300]) - current - stale
    assert loaded.get("rebuilt", 0) == len(never_saved & users_of(events[300:]))  # only those
    assert not reads.users & (current | stale)
    # Each was given only what it lacked: the events stored after its save.
    assert catch_ups.events < sum(1 for r in events[:300] if r.event.user_id in came_back) / 2
    # The online model rewinds to its last save after a crash; the users' features lose nothing.
    assert crashed.model.rows == uninterrupted.model.rows
    assert_saved_states_are_whole(crashed)


def test_a_caught_up_state_is_exact_where_a_rebuild_from_the_latest_events_is_not(monkeypatch):
    # Few users, many events each: a rebuild from each user's 30 latest events forgets the rest.
    everyone = stream(3000, seed=12)
    busiest = {user_id for user_id, _ in Counter(r.event.user_id for r in everyone).most_common(3)}
    events = [r for r in everyone if r.event.user_id in busiest][:300]
    uninterrupted, crashed, _, stale, _ = crash_and_go_on(events, 5, history=30)
    assert stale == busiest
    assert crashed.model.rows == uninterrupted.model.rows

    original = InMemoryFeatureStates.read

    def never_caught_up(repository, user_ids, catch_up):
        return original(repository, user_ids, catch_up)._replace(stale={})  # so they are rebuilt

    monkeypatch.setattr(InMemoryFeatureStates, "read", never_caught_up)
    uninterrupted, rebuilt, _, _, loaded = crash_and_go_on(events, 5, history=30)
    assert rebuilt.model.rows != uninterrupted.model.rows
    assert loaded == {"rebuilt": len(busiest)}


def test_due_states_are_saved_oldest_first_and_at_most_so_many_a_batch():
    events = stream(300, seed=6)
    p = platform(60, states_saved_per_batch=4)
    first, later = events[:100], batches(events[100:], 10)
    p.record(first)
    assert saved(p) == {}
    p.clock.t = 61.0
    p.record(later[0])
    assert len(saved(p)) == 4
    p.record(later[1])
    assert len(saved(p)) == 8
    assert set(saved(p)) <= users_of(first)  # the users changed first go first
    p.recorder.save_scoring_state(0)
    assert saved(p) == totals(p)
    assert_saved_states_are_whole(p)


def test_states_saved_by_a_batch_that_fails_to_commit_are_saved_by_a_later_one():
    events = stream(200, seed=7)
    p = platform(60)
    p.record(events[:100])
    p.clock.t = 61.0
    working = p.recorder
    p.recorder = replace(working, start_unit_of_work=lambda: CommitFails(p.state))
    with pytest.raises(StorageUnavailable):
        p.record(events[100:150])
    assert saved(p) == {}
    p.recorder = working
    p.record(events[100:150])  # the retry
    # The failed batch's own users were read again from the store: changed since 61, not due yet.
    assert set(saved(p)) == users_of(events[:100]) - users_of(events[100:150])
    assert_saved_states_are_whole(p)

    clean = platform(60)
    clean.record(events[:100])
    clean.record(events[100:])
    p.record(events[150:])
    assert p.scores(events) == clean.scores(events)


def test_users_evicted_from_memory_are_not_saved_with_a_count_their_state_lacks():
    events = stream(300, seed=8)
    tight, roomy = platform(0, users_in_memory=3), platform(0)
    for chunk in batches(events, 25):
        tight.record(chunk)
        roomy.record(chunk)
    tight.recorder.save_scoring_state(0)
    assert len(tight.scoring.for_partition(0).users) == 3
    assert_saved_states_are_whole(tight)
    assert tight.scores(events) == roomy.scores(events)


def test_a_user_scored_but_not_counted_since_is_not_saved():
    states = UserStates(in_memory=10, history=500, save_after_s=0, saved_per_batch=10)
    store = InMemoryState()
    first, again = stream(30, seed=9)[:20], stream(30, seed=9)[20:]
    with InMemoryUnitOfWork(store) as uow:
        states.load(uow, users_of(first))
        states.observe(first, users_of(first), now=0.0)
        states.stored({user_id: 1 for user_id in users_of(first)})
        states.observe(again, users_of(again), now=1.0)  # scored, never counted (its batch stored none)
        assert states.save(uow, now=5.0, everything=True) == len(users_of(first) - users_of(again))
        uow.commit()
    assert set(store.feature_states) == users_of(first) - users_of(again)


def test_a_state_evicted_from_memory_is_saved_so_the_users_return_reads_one_row(monkeypatch):
    events = stream(300, seed=10)
    tight, roomy = platform(3600, users_in_memory=15), platform(3600)
    reads = PastReads(monkeypatch)
    seen: set[str] = set()
    for chunk in batches(events, 5):
        reads.users.clear()
        tight.record(chunk)
        assert not reads.users & seen  # a returning user was in memory or read back in one row
        seen |= users_of(chunk)
        roomy.record(chunk)
    assert saved(tight) and not saved(roomy)  # nothing was due: tight's rows are the evicted states
    assert_saved_states_are_whole(tight)
    assert tight.model.rows == roomy.model.rows


def test_a_user_evicted_then_back_and_changed_before_any_save_is_saved_once_as_now():
    states = UserStates(in_memory=1, history=0, save_after_s=0, saved_per_batch=10)
    store = InMemoryState()
    events = stream(200, seed=11)
    ann = [r for r in events if r.event.user_id == events[0].event.user_id]
    bob = next(r for r in events if r.event.user_id != events[0].event.user_id)
    # Three batches whose saves never ran (as when a batch is retried event by event): bob evicts
    # ann, whose return evicts bob; ann's state is then both evicted-unsaved and changed since.
    with InMemoryUnitOfWork(store) as uow:
        for n, (received, count) in enumerate([(ann[0], 1), (bob, 1), (ann[1], 2)]):
            states.load(uow, {received.event.user_id})
            states.observe([received], {received.event.user_id}, now=float(n))
            states.stored({received.event.user_id: count})
        assert states.save(uow, now=10.0, everything=True) == 2
        uow.commit()
    assert {user_id: saved.events_total for user_id, saved in store.feature_states.items()} == {
        ann[0].event.user_id: 2,
        bob.event.user_id: 1,
    }
