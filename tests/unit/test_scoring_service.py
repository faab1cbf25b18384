"""Scoring every stored event: once per event, with the newest model, surviving failures and restarts."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.in_memory.event_store import InMemoryUnitOfWork
from adapters.in_memory.models import InMemoryModelRegistry
from application.scoring import ScoringRules
from domain.detection import BATCH_DETECTOR, PREPARED_NAMES, prepare
from domain.errors import BrokerUnavailable
from domain.scoring import NO_SINGLE_REASON
from tests.unit.scoring_platform import (
    AMOUNT,
    BurstModel,
    Platform,
    batches,
    extract_features,
    info,
    stream,
)

# === scores and anomalies ==================================================================


def test_without_any_model_events_are_stored_unscored():
    platform = Platform(window=10**9)
    events = stream(50)
    outcome = platform.record(events)
    assert outcome.stored == 50 and outcome.anomalies == 0 and outcome.model_version is None
    assert platform.scores(events) == [None] * 50
    assert [p.anomaly_score for p in platform.published.processed] == [None] * 50


def test_every_new_event_gets_a_score_in_the_store_and_on_the_processed_topic():
    platform = Platform()
    platform.registry.save(BurstModel(), info())
    events = stream(300)
    for chunk in batches(events, 64):
        platform.record(chunk)
    scores = platform.scores(events)
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert [p.anomaly_score for p in platform.published.processed] == scores
    assert len(set(scores)) > 5  # the scores depend on the events


def test_online_model_has_a_say_once_warm_even_within_a_batch():
    platform = Platform(registry=InMemoryModelRegistry(BATCH_DETECTOR), window=4)
    events = stream(10)
    platform.record(events[:2])
    platform.record(events[2:])  # warm after 4 events learned: from the 3rd event of this batch on
    scores = platform.scores(events)
    assert scores[:4] == [None] * 4
    assert all(s is not None for s in scores[4:])


def test_batch_model_alone_scores_while_the_online_model_is_cold():
    platform = Platform(window=10**9)
    platform.registry.save(BurstModel(), info())
    events = stream(30)
    platform.record(events)
    assert platform.scores(events) == BurstModel().score([prepare(f) for f in extract_features(events)])


def test_both_detectors_score_the_rows_the_injected_preparation_gives():
    given: list[list[tuple[float, ...]]] = []

    def shifted(features):  # prepares as `prepare` does, then adds 1 to every value; remembers what it gave
        rows = [tuple(value + 1.0 for value in prepare(f)) for f in features]
        given.append(rows)
        return rows

    platform = Platform(window=10, prepare=shifted)
    platform.registry.save(BurstModel(), info())
    events = stream(30)
    platform.record(events)
    assert given == [[tuple(v + 1.0 for v in prepare(f)) for f in extract_features(events)]]
    online = platform.scoring.for_partition(0).online
    assert online.learned == 30 and online.total == sum(row[AMOUNT] for row in given[0])
    assert platform.scores(events)[:10] == BurstModel().score(given[0][:10])  # the online model still cold


def test_anomalies_are_stored_and_published_with_reasons():
    platform = Platform(rules=ScoringRules(snapshot_every_s=0, threshold=0.5))
    platform.registry.save(BurstModel(scale=2.0), info())
    events = stream(400, anomaly_rate=0.05)
    outcome = platform.record(events)
    flagged = platform.published.anomalies
    assert outcome.anomalies == len(flagged) > 0
    assert len(platform.state.anomalies) == len(flagged)
    scores = dict(zip((r.event.event_id for r in events), platform.scores(events), strict=True))
    for anomaly in flagged:
        assert anomaly.score == scores[anomaly.event_id] >= 0.5
        assert anomaly.reasons and all(isinstance(r, str) and r for r in anomaly.reasons)
        assert anomaly.model_version == platform.registry.latest().version
        assert set(anomaly.features) >= set(PREPARED_NAMES)
    unexplained = [a for a in flagged if a.reasons == (NO_SINGLE_REASON,)]
    assert len(unexplained) < len(flagged)  # the burst model fires on bursts, which reasons name


# === exactly once ==========================================================================


def test_redelivered_events_are_neither_rescored_nor_relearned():
    platform = Platform()
    platform.registry.save(BurstModel(), info())
    events = stream(120)
    platform.record(events[:80])
    first_scores = platform.scores(events[:80])
    learned = platform.scoring.for_partition(0).online.learned
    outcome = platform.record(events[40:])  # 40 redelivered, 40 new
    assert outcome.stored == 40 and outcome.duplicates == 40
    assert platform.scores(events[:80]) == first_scores
    assert platform.scoring.for_partition(0).online.learned == learned + 40


def test_a_failed_batch_is_forgotten_so_its_retry_scores_as_if_it_never_failed():
    events = stream(240)
    clean = Platform()
    clean.registry.save(BurstModel(), info())
    for chunk in batches(events, 60):
        clean.record(chunk)

    flaky = Platform()
    flaky.registry.save(BurstModel(), info())
    for i, chunk in enumerate(batches(events, 60)):
        if i == 2:
            flaky.published.fail_next = 1
            with pytest.raises(BrokerUnavailable):
                flaky.record(chunk)
        flaky.record(chunk)

    assert flaky.scores(events) == clean.scores(events)


def test_users_forgotten_from_memory_are_rebuilt_from_their_stored_history():
    events = stream(300, seed=9)
    roomy = Platform()
    roomy.registry.save(BurstModel(), info())
    tight = Platform(rules=ScoringRules(model_poll_s=10, snapshot_every_s=0, threshold=0.6, users_in_memory=1))
    tight.registry.save(BurstModel(), info())
    for chunk in batches(events, 25):
        roomy.record(chunk)
        tight.record(chunk)
    assert tight.scores(events) == roomy.scores(events)


# === the batch model ======================================================================


def test_a_newer_batch_model_is_swapped_in_without_a_restart():
    platform = Platform()
    first = platform.registry.save(BurstModel(scale=3.0), info())
    events = stream(90)
    assert platform.record(events[:30]).model_version == first.version

    second = platform.registry.save(BurstModel(scale=1000.0), info(metrics={"note": 2.0}))
    assert platform.record(events[30:60]).model_version == first.version  # not looked for yet
    platform.clock.t += platform.rules.model_poll_s
    assert platform.record(events[60:]).model_version == second.version
    assert max(platform.scores(events[60:])) < min(1.0, max(platform.scores(events[:30])))


def test_a_model_version_that_fails_to_load_leaves_the_current_one_in_service():
    class Flaky(InMemoryModelRegistry):
        def load(self, version):
            if version.info.metrics.get("broken"):
                raise OSError("disk error")
            return super().load(version)

    platform = Platform(registry=Flaky(BATCH_DETECTOR))
    good = platform.registry.save(BurstModel(), info())
    events = stream(60)
    platform.record(events[:30])
    platform.registry.save(BurstModel(), info(metrics={"broken": 1.0}))
    platform.clock.t += platform.rules.model_poll_s
    assert platform.record(events[30:]).model_version == good.version
    assert all(s is not None for s in platform.scores(events))


def test_partitions_asking_while_the_model_loads_wait_for_it():
    class Slow(InMemoryModelRegistry):
        def load(self, version):
            time.sleep(0.2)
            return super().load(version)

    platform = Platform(registry=Slow(BATCH_DETECTOR))
    saved = platform.registry.save(BurstModel(), info())
    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(lambda _: platform.scoring.models.current(), range(4)))
    assert all(current is not None and current[0] == saved for current in seen)


# === the online model's state ==============================================================


def test_online_model_state_survives_a_restart():
    events = stream(200)
    uninterrupted = Platform()
    for chunk in batches(events, 50):
        uninterrupted.record(chunk)

    restarted = Platform()
    for i, chunk in enumerate(batches(events, 50)):
        if i == 2:
            restarted.restart()
        restarted.record(chunk)

    assert restarted.trackers.restored == 1
    assert restarted.scoring.for_partition(0).online.learned == 200
    assert restarted.scores(events) == uninterrupted.scores(events)


def test_online_model_state_is_saved_only_as_often_as_configured():
    platform = Platform(rules=ScoringRules(snapshot_every_s=60))
    events = stream(90)
    platform.record(events[:30])  # the first save waits a full interval after loading
    assert ("hst", 0) not in platform.state.detector_states
    platform.clock.t += 60
    platform.record(events[30:60])
    assert platform.state.detector_states[("hst", 0)][1] == 60
    platform.record(events[60:])
    assert platform.state.detector_states[("hst", 0)][1] == 60


def test_an_unreadable_saved_state_starts_the_online_model_afresh():
    platform = Platform()
    with InMemoryUnitOfWork(platform.state) as uow:
        uow.detector_states.save("hst", 0, b"garbage", 7)
        uow.commit()
    events = stream(20)
    platform.record(events)
    assert platform.scoring.for_partition(0).online.learned == 20


def test_rules_reject_a_threshold_outside_the_unit_interval():
    with pytest.raises(ValueError, match="threshold"):
        ScoringRules(threshold=1.5)
