"""The retraining policy: first model as soon as possible, then on schedule; failures retried."""

from __future__ import annotations

from datetime import timedelta

from application.anomaly_training import AnomalyTrainingReport, CatalogEntry, NotEnoughEvents
from application.retraining import Retrainer
from domain.scoring import ModelInfo, ModelVersion
from tests.factories import T0

HOUR = 3600.0


def version(created_at) -> ModelVersion:
    info = ModelInfo(kind="if", trained_from=created_at - timedelta(days=1), trained_to=created_at)
    return ModelVersion(version=f"if-{created_at:%Y%m%dT%H%M%S}-00000000", created_at=created_at, info=info)


class World:
    def __init__(self) -> None:
        self.now = T0
        self.models: list[CatalogEntry] = []
        self.failure: Exception | None = None
        self.trained = 0
        self.stored = 5_000  # events stored in all, each stamped when it came

    def events_after(self, moment) -> int:
        newest = self.models[-1] if self.models else None
        return self.stored - (newest.training_events if newest and moment == newest.model.info.trained_to else 0)

    def train(self) -> AnomalyTrainingReport:
        if self.failure is not None:
            raise self.failure
        self.trained += 1
        self.models.append(CatalogEntry(version(self.now), self.stored))
        return AnomalyTrainingReport(self.models[-1].model, self.stored, T0, T0, {})

    def retrainer(self) -> Retrainer:
        latest = lambda: self.models[-1] if self.models else None  # noqa: E731
        return Retrainer(self.train, latest, self.events_after, every_s=HOUR, retry_s=30, now=lambda: self.now)


def test_first_model_is_trained_at_once_then_on_schedule():
    world = World()
    retrainer = world.retrainer()
    assert retrainer.step() == HOUR and world.trained == 1
    world.now += timedelta(minutes=20)
    assert retrainer.step() == 30 and world.trained == 1  # not due; look again soon, for growth
    world.now += timedelta(minutes=40)
    assert retrainer.step() == HOUR and world.trained == 2


def test_an_existing_model_counts_from_when_it_was_made():
    world = World()
    world.models.append(CatalogEntry(version(T0 - timedelta(minutes=59, seconds=50)), 5_000))
    assert world.retrainer().step() == 10 and world.trained == 0


def test_a_young_platform_retrains_each_time_its_data_has_doubled():
    world = World()
    retrainer = world.retrainer()
    retrainer.step()
    assert world.models[-1].training_events == 5_000
    world.now += timedelta(minutes=2)
    world.stored = 9_000  # 4,000 newer than the model's window: not yet as many as it learned from
    assert retrainer.step() == 30 and world.trained == 1
    world.stored = 10_000
    assert retrainer.step() == HOUR and world.trained == 2
    assert world.models[-1].training_events == 10_000


def test_too_few_events_or_a_failure_is_retried_soon():
    world = World()
    retrainer = world.retrainer()
    world.failure = NotEnoughEvents("only 12 events")
    assert retrainer.step() == 30
    world.failure = OSError("disk full")
    assert retrainer.step() == 30
    world.failure = None
    assert retrainer.step() == HOUR and world.trained == 1
