"""The retraining policy: first model as soon as possible, then on schedule; failures retried."""

from __future__ import annotations

from datetime import timedelta

from application.anomaly_training import AnomalyTrainingReport, NotEnoughEvents
from application.retraining import Retrainer
from domain.scoring import ModelInfo, ModelVersion
from tests.factories import T0

HOUR = 3600.0


def version(created_at) -> ModelVersion:
    info = ModelInfo(kind="if", trained_from=T0, trained_to=T0)
    return ModelVersion(version=f"if-{created_at:%Y%m%dT%H%M%S}-00000000", created_at=created_at, info=info)


class World:
    def __init__(self) -> None:
        self.now = T0
        self.models: list[ModelVersion] = []
        self.failure: Exception | None = None
        self.trained = 0

    def train(self) -> AnomalyTrainingReport:
        if self.failure is not None:
            raise self.failure
        self.trained += 1
        self.models.append(version(self.now))
        return AnomalyTrainingReport(self.models[-1], 5_000, T0, T0, {})

    def retrainer(self) -> Retrainer:
        return Retrainer(
            self.train, lambda: self.models[-1] if self.models else None, every_s=HOUR, retry_s=30, now=lambda: self.now
        )


def test_first_model_is_trained_at_once_then_on_schedule():
    world = World()
    retrainer = world.retrainer()
    assert retrainer.step() == HOUR and world.trained == 1
    world.now += timedelta(minutes=20)
    assert retrainer.step() == 40 * 60 and world.trained == 1  # not due: wait for the rest of the hour
    world.now += timedelta(minutes=40)
    assert retrainer.step() == HOUR and world.trained == 2


def test_an_existing_model_counts_from_when_it_was_made():
    world = World()
    world.models.append(version(T0 - timedelta(minutes=50)))
    assert world.retrainer().step() == 10 * 60 and world.trained == 0


def test_too_few_events_or_a_failure_is_retried_soon():
    world = World()
    retrainer = world.retrainer()
    world.failure = NotEnoughEvents("only 12 events")
    assert retrainer.step() == 30
    world.failure = OSError("disk full")
    assert retrainer.step() == 30
    world.failure = None
    assert retrainer.step() == HOUR and world.trained == 1
