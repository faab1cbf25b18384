"""A recorder with scoring over the in-memory store, and stand-in models, for the scoring tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from adapters.in_memory.event_store import InMemoryState, InMemoryUnitOfWork
from adapters.in_memory.models import InMemoryModelRegistry
from application.ingest import Recorder
from application.messages import Anomaly, IngestBatch, LogPosition, ReceivedEvent
from application.ports.event_log import Acknowledged
from application.processed import ProcessedEvent
from application.scoring import Scoring, ScoringRules
from application.traffic_anomalies import generate_labelled
from domain.detection import BATCH_DETECTOR, PREPARED_NAMES, PrepareBatch, prepare_batch
from domain.errors import BrokerUnavailable
from domain.features import extract
from domain.scoring import ModelInfo
from tests.factories import T0, received

NOW = T0 + timedelta(days=1)
EVENTS_1M = PREPARED_NAMES.index("events_last_1m")
AMOUNT = PREPARED_NAMES.index("amount_log")


class BurstModel:
    """A stand-in batch model: the busier the last minute, the higher the score."""

    name = BATCH_DETECTOR

    def __init__(self, scale: float = 3.0) -> None:
        self.scale = scale

    def score(self, batch: Sequence[tuple[float, ...]]) -> list[float]:
        return [min(1.0, row[EVENTS_1M] / self.scale) for row in batch]


class SpendTracker:
    """A stand-in online model: warm after `window` events; scores amounts against what it has learned."""

    name = "hst"

    def __init__(self, window: int = 5, learned: int = 0, total: float = 0.0) -> None:
        self.window, self.learned, self.total = window, learned, total

    @property
    def warm_at(self) -> int:
        return self.window

    def score(self, batch: Sequence[tuple[float, ...]]) -> list[float]:
        mean = self.total / max(self.learned, 1)
        return [min(1.0, max(0.0, (row[AMOUNT] - mean) / 5)) for row in batch]

    def learn(self, batch: Sequence[tuple[float, ...]]) -> None:
        for row in batch:
            self.learned += 1
            self.total += row[AMOUNT]

    def score_then_learn(self, batch: Sequence[tuple[float, ...]]) -> list[float]:
        out = []
        for row in batch:
            out += self.score([row])
            self.learn([row])
        return out

    def to_bytes(self) -> bytes:
        return json.dumps([self.window, self.learned, self.total]).encode()

    def checkpoint(self) -> object:
        return (self.learned, self.total)

    def rewind(self, checkpoint) -> None:
        self.learned, self.total = checkpoint


class SpendTrackers:
    def __init__(self, window: int = 5) -> None:
        self.window = window
        self.restored = 0

    def new(self) -> SpendTracker:
        return SpendTracker(self.window)

    def restore(self, state: bytes) -> SpendTracker:
        try:
            window, learned, total = json.loads(state)
        except ValueError as error:
            raise ValueError("not a SpendTracker") from error
        self.restored += 1
        return SpendTracker(window, learned, total)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def info(**overrides) -> ModelInfo:
    return ModelInfo(kind=BATCH_DETECTOR, trained_from=T0, trained_to=T0, **overrides)


class Published:
    def __init__(self) -> None:
        self.processed: list[ProcessedEvent] = []
        self.anomalies: list[Anomaly] = []
        self.fail_next = 0

    def publish_processed(self, events: Sequence[ProcessedEvent]) -> Acknowledged:
        if self.fail_next:
            self.fail_next -= 1
            raise BrokerUnavailable("broker away")
        self.processed += events
        return Acknowledged()

    def publish_anomalies(self, anomalies: Sequence[Anomaly]) -> Acknowledged:
        self.anomalies += anomalies
        return Acknowledged()


class Platform:
    """A recorder with scoring over an in-memory store; `restart()` keeps the store, drops memory."""

    def __init__(
        self,
        *,
        registry=None,
        rules: ScoringRules | None = None,
        window: int = 5,
        prepare: PrepareBatch = prepare_batch,
    ) -> None:
        self.state = InMemoryState()
        self.prepare = prepare
        self.registry = registry if registry is not None else InMemoryModelRegistry(BATCH_DETECTOR)
        self.rules = rules or ScoringRules(model_poll_s=10, snapshot_every_s=0, threshold=0.6)
        self.clock = Clock()
        self.trackers = SpendTrackers(window)
        self.published = Published()
        self.restart()

    def restart(self) -> None:
        self.scoring = Scoring(
            registry=self.registry, online=self.trackers, rules=self.rules, monotonic=self.clock, prepare=self.prepare
        )
        self.recorder = Recorder(
            lambda: InMemoryUnitOfWork(self.state),
            "test",
            publisher=self.published,
            scoring=self.scoring,
            anomaly_publisher=self.published,
        )

    def record(self, events: list[ReceivedEvent]):
        position = LogPosition("scoring-test", "user-events", 0, events[-1].offset + 1)
        return self.recorder(IngestBatch(position, events, []), now=NOW)

    def scores(self, events: list[ReceivedEvent]) -> list[float | None]:
        with InMemoryUnitOfWork(self.state) as uow:
            return [uow.events.anomaly_score(r.event.event_id) for r in events]


def extract_features(events: list[ReceivedEvent]) -> list[tuple[float, ...]]:
    return extract((r.event, r.event_time) for r in events)[0]


def stream(count: int, *, seed: int = 3, anomaly_rate: float = 0.02) -> list[ReceivedEvent]:
    labelled = generate_labelled(count, seed=seed, start=T0, rate=5.0, anomaly_rate=anomaly_rate)
    return [received(item.event, offset=i) for i, item in enumerate(labelled)]


def batches(events: list[ReceivedEvent], size: int) -> list[list[ReceivedEvent]]:
    return [events[i : i + size] for i in range(0, len(events), size)]
