"""Scoring every event as it is stored: one combined anomaly score, and anomaly records.

Per Kafka partition (a user's events all land in one), a `PartitionScorer` keeps each active
user's feature state (`domain.features.observe`), so an event's features come from that user's
earlier events only; `application.user_states` says how a user not in memory gets theirs, and
when they are saved.

Each micro-batch is scored by two detectors over the same prepared rows (`domain.detection`; an
adapter may prepare them as one array, `Scoring(prepare=...)`):

* the batch model, the newest version in the model registry (`analytics train anomaly` saves
  them); `LatestModel` looks for a newer one every `model_poll_s` and swaps it in, no restart;
* the online model, which scores each event and then learns it; its state is saved with a
  batch every `snapshot_every_s` and restored from there when the partition starts again.

Their scores combine into one (`domain.scoring.combine`, weights of the detectors that have an
opinion: a batch model exists, the online one has learned its first window); with neither, the
event stays unscored (null). At or above the threshold an event is an anomaly, with reasons.

Scoring happens inside the batch's unit of work, for the events the store does not have yet:
a redelivered event is neither scored nor learned twice. If the unit of work fails, the
scorer forgets what that batch taught it (`rolled_back`): the users' states are read again from
the store and the online model rewinds to where it was at the last commit, so a retried batch is
not counted twice in anyone's features.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.batch_model import LatestModel
from application.messages import Anomaly, ReceivedEvent
from application.ports.event_store import UnitOfWork
from application.user_states import UserStates
from domain.detection import (
    BATCH_DETECTOR,
    COMBINE_MODE,
    DEFAULT_THRESHOLD,
    DEFAULT_WEIGHTS,
    ONLINE_DETECTOR,
    ONLINE_ONLY_THRESHOLD,
    PrepareBatch,
    prepare_batch,
)
from domain.features import Features, as_dict
from domain.scoring import ModelRegistry, OnlineDetector, combine, flagged

log = logging.getLogger(__name__)


class PersistentOnlineDetector(OnlineDetector, Protocol):
    """An online detector whose whole state fits in bytes, and that knows when it can judge."""

    learned: int
    warm_at: int
    """Events it must learn before its scores mean something (Half-Space Trees: one window)."""

    def score_then_learn(self, batch: Sequence[Features]) -> list[float]: ...

    def to_bytes(self) -> bytes: ...

    def checkpoint(self) -> object:
        """Its learning state now, cheap to take: `rewind` goes back to it."""
        ...

    def rewind(self, checkpoint: object) -> None: ...


class OnlineDetectorFactory(Protocol):
    def new(self) -> PersistentOnlineDetector: ...

    def restore(self, state: bytes) -> PersistentOnlineDetector:
        """The detector saved as `state`; ValueError if these bytes are not one."""
        ...


@dataclass(frozen=True, slots=True)
class ScoringRules:
    threshold: float = DEFAULT_THRESHOLD
    online_only_threshold: float = ONLINE_ONLY_THRESHOLD  # until a batch model is trained
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    model_poll_s: float = 30.0  # how often to look for a newer batch model
    snapshot_every_s: float = 30.0  # how often the online model's state, and a changed user's, is saved with a batch
    states_saved_per_batch: int = 5_000  # users' states at most, so a burst of due ones spreads over batches
    users_in_memory: int = 50_000  # per partition; the least recently seen are rebuilt when they return
    history_per_user: int = 500  # stored events replayed to rebuild a user's state
    max_reasons: int = 3

    def __post_init__(self) -> None:
        for threshold in (self.threshold, self.online_only_threshold):
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if self.users_in_memory < 1 or self.states_saved_per_batch < 1 or self.history_per_user < 0:
            raise ValueError("users_in_memory, states_saved_per_batch must be positive; history_per_user not negative")


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    scores: list[float | None]  # aligned with the events scored; None: unscored (no detector has an opinion yet)
    anomalies: list[Anomaly]
    model_version: str | None
    seconds: float  # time spent scoring, for the scoring-latency metric
    states_loaded: Mapping[str, int] = field(default_factory=dict)  # users read into memory, by how (LOADED_AS)


class PartitionScorer:
    """Scores the events of one partition; one writer thread uses it, in log order."""

    def __init__(
        self,
        partition: int,
        *,
        models: LatestModel | None,
        online: OnlineDetectorFactory | None,
        rules: ScoringRules,
        monotonic: Callable[[], float],
        prepare: PrepareBatch = prepare_batch,
    ) -> None:
        self.partition = partition
        self._prepare = prepare
        self._models = models
        self._online_factory = online
        self._rules = rules
        self._monotonic = monotonic
        self.users = UserStates(
            in_memory=rules.users_in_memory,
            history=rules.history_per_user,
            save_after_s=rules.snapshot_every_s,
            saved_per_batch=rules.states_saved_per_batch,
        )
        self._online: PersistentOnlineDetector | None = None
        self._online_loaded = False
        self._saved_at: float | None = None
        self._checkpoint: tuple[object] | None = None  # the online model before the current batch

    @property
    def online(self) -> PersistentOnlineDetector | None:
        return self._online

    def score(self, uow: UnitOfWork, fresh: Sequence[ReceivedEvent], now: datetime) -> ScoredBatch:
        """Features, scores and anomalies of events not stored before, in log order; learns them."""
        started = self._monotonic()
        model = self._models.current() if self._models is not None else None
        if not fresh:
            return ScoredBatch([], [], model[0].version if model else None, 0.0)
        self._load_online(uow)
        users = {r.event.user_id for r in fresh}
        loaded = self.users.load(uow, users)
        features = self.users.observe(fresh, users, started)
        rows = self._prepare(features)

        batch_scores = model[1].score(rows) if model is not None else None
        online_scores, cold = None, len(rows)
        if self._online is not None:
            if self._checkpoint is None:  # the first scoring since the last commit
                self._checkpoint = (self._online.checkpoint(),)
            cold = min(max(self._online.warm_at - self._online.learned, 0), len(rows))
            online_scores = self._online.score_then_learn(rows)  # learns every row, scores the warm ones
        version = model[0].version if model else None
        combined = self._combine(batch_scores, online_scores, cold)
        scored = [(i, score) for i, score in enumerate(combined) if score is not None]
        if not scored:
            return ScoredBatch(combined, [], version, self._monotonic() - started, loaded)

        indices = [i for i, _ in scored]
        # The online model alone scores wider than the combination the threshold was tuned on.
        threshold = self._rules.threshold if model is not None else self._rules.online_only_threshold
        found = flagged([s for _, s in scored], [features[i] for i in indices], threshold,
                        limit=self._rules.max_reasons)  # fmt: skip
        anomalies = [
            Anomaly(fresh[indices[j]], scored[j][1], tuple(why), now, version, as_dict(features[indices[j]]))
            for j, why in found
        ]
        return ScoredBatch(combined, anomalies, version, self._monotonic() - started, loaded)

    def _combine(self, batch: list[float] | None, online: list[float] | None, cold: int) -> list[float | None]:
        """One score per row from the detectors that have an opinion on it: the online model only
        from row `cold` on (before, it had not learned enough); None where neither has one."""
        if online is None:
            return list(batch) if batch is not None else [None] * cold
        if batch is None:
            return [None] * cold + online[cold:]
        weights = [self._rules.weights[BATCH_DETECTOR], self._rules.weights[ONLINE_DETECTOR]]
        return batch[:cold] + combine([batch[cold:], online[cold:]], weights, mode=COMBINE_MODE)

    def stored(self, totals: Mapping[str, int]) -> None:
        """Each user's stored events once the batch's are stored (`users.total_events`)."""
        self.users.stored(totals)

    def save_if_due(self, uow: UnitOfWork, *, force: bool = False) -> bool:
        """Save with this unit of work what is due: the online model's state every `snapshot_every_s`,
        users' states unsaved that long; with `force`, all of it. True if the online model's was."""
        now = self._monotonic()
        self.users.save(uow, now, everything=force)
        if self._online is None:
            return False
        if not force and self._saved_at is not None and now - self._saved_at < self._rules.snapshot_every_s:
            return False
        uow.detector_states.save(ONLINE_DETECTOR, self.partition, self._online.to_bytes(), self._online.learned)
        self._saved_at = now
        return True

    def committed(self) -> None:
        self.users.committed()
        self._checkpoint = None

    def rolled_back(self) -> None:
        """Forget what the failed batch taught: its users' states (read again from the store when
        they come back) and the online model's learning since the last commit."""
        self.users.rolled_back()
        if self._online is not None and self._checkpoint is not None:
            self._online.rewind(self._checkpoint[0])
        self._checkpoint = None

    # --- state ---------------------------------------------------------------------------------

    def _load_online(self, uow: UnitOfWork) -> None:
        if self._online_loaded or self._online_factory is None:
            return
        factory = self._online_factory
        saved = uow.detector_states.load(ONLINE_DETECTOR, self.partition)
        detector = None
        if saved is not None:
            try:
                detector = factory.restore(saved)
            except ValueError:
                log.warning("saved online model unreadable, starting afresh", extra={"partition": self.partition})
        self._online = detector if detector is not None else factory.new()
        self._online_loaded = True
        self._saved_at = self._monotonic()
        log.info(
            "online model ready",
            extra={"partition": self.partition, "restored": detector is not None, "learned": self._online.learned},
        )


class Scoring:
    """Hands each partition its own scorer; the batch model is shared."""

    def __init__(
        self,
        *,
        registry: ModelRegistry | None,
        online: OnlineDetectorFactory | None,
        rules: ScoringRules,
        monotonic: Callable[[], float],
        prepare: PrepareBatch = prepare_batch,
    ) -> None:
        self.rules = rules
        self._prepare = prepare
        self.models = LatestModel(registry, poll_s=rules.model_poll_s, monotonic=monotonic) if registry else None
        self._online = online
        self._monotonic = monotonic
        self._scorers: dict[int, PartitionScorer] = {}
        self._lock = threading.Lock()

    def for_partition(self, partition: int) -> PartitionScorer:
        with self._lock:
            scorer = self._scorers.get(partition)
            if scorer is None:
                scorer = self._scorers[partition] = PartitionScorer(
                    partition,
                    models=self.models,
                    online=self._online,
                    rules=self.rules,
                    monotonic=self._monotonic,
                    prepare=self._prepare,
                )
            return scorer
