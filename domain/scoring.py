"""Scoring contracts: detectors score feature vectors, a registry keeps trained models,
and scores combine into verdicts with reasons a person can read.

The domain fixes only the shapes; detectors (statistical models, online learners, rules)
are adapters. Every detector scores in [0, 1], higher meaning more anomalous, so scores of
different kinds of detector can be weighed against each other and one threshold applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from domain.anomaly_reasons import reasons
from domain.features import FEATURE_NAMES, Features

NO_SINGLE_REASON = "unusual combination of activity for this user"
"""The reason of an anomaly that no rule of `domain.anomaly_reasons.reasons` explains (the model saw it)."""


@runtime_checkable
class Detector(Protocol):
    """Scores a batch of feature vectors, each in [0, 1]; scoring never changes the detector.

    So a score is reproducible: the same model version scores the same batch the same way.
    """

    name: str

    def score(self, batch: Sequence[Features]) -> list[float]: ...


@runtime_checkable
class OnlineDetector(Detector, Protocol):
    """A detector that also learns as events stream by: score a batch first, then learn it."""

    def learn(self, batch: Sequence[Features]) -> None: ...


class ModelInfo(BaseModel):
    """What a batch model was trained as and on, saved with it."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(min_length=1)  # e.g. "isolation_forest"
    params: dict[str, Any] = Field(default_factory=dict)
    trained_from: AwareDatetime  # the event-time window of the training data
    trained_to: AwareDatetime
    metrics: dict[str, float] = Field(default_factory=dict)
    features: tuple[str, ...] = FEATURE_NAMES  # the column order it was trained on

    @model_validator(mode="after")
    def _window_in_order(self) -> ModelInfo:
        if self.trained_from > self.trained_to:
            raise ValueError("trained_from is after trained_to")
        return self


class ModelVersion(BaseModel):
    """One saved model: its registry-assigned version and what it is."""

    model_config = ConfigDict(frozen=True)

    version: str = Field(min_length=1)
    created_at: AwareDatetime
    info: ModelInfo


class ModelRegistry(Protocol):
    """The port to persisted batch models: training saves, scoring loads the latest."""

    def latest(self) -> ModelVersion | None: ...

    def save(self, detector: Detector, info: ModelInfo) -> ModelVersion: ...

    def load(self, version: ModelVersion) -> Detector: ...


CombineMode = Literal["mean", "max"]


def combine(scores: Sequence[Sequence[float]], weights: Sequence[float], *, mode: CombineMode = "mean") -> list[float]:
    """One score per event from several detectors' scores (`scores[d][i]`: detector d, event i).

    Each input is first clipped to [0, 1] (NaN counts as 0, no evidence), so a detector out
    of contract cannot outweigh the others. "mean" is the weighted mean: detectors are peers
    and one detector's spike alone is damped. "max" takes the largest score, each scaled by
    its weight relative to the largest weight: detectors that look for different things
    (velocity vs amounts), where any one confident alarm should count in full.
    """
    if len(scores) != len(weights) or not scores:
        raise ValueError(f"need one weight per detector, got {len(scores)} score lists and {len(weights)} weights")
    if any(not (isfinite(w) and w >= 0) for w in weights) or not sum(weights) > 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0: {list(weights)}")
    size = len(scores[0])
    if any(len(s) != size for s in scores):
        raise ValueError(f"score lists differ in length: {[len(s) for s in scores]}")
    if mode not in ("mean", "max"):
        raise ValueError(f"unknown mode {mode!r}: 'mean' or 'max'")
    top = max(weights)
    relative = [w / top for w in weights]  # in [0, 1]: their sum cannot overflow, as huge weights' would
    scale = sum(relative) if mode == "mean" else 1.0
    shares = [r / scale for r in relative]
    # Column by column in list comprehensions: this runs for every event, so no per-event calls.
    # `0.0 <= s <= 1.0` is False for NaN, which the else branch maps to 0.
    weighted = [[share * (s if 0.0 <= s <= 1.0 else 1.0 if s > 1.0 else 0.0) for s in column]
                for share, column in zip(shares, scores, strict=True)]  # fmt: skip
    if mode == "mean":
        folded = [sum(parts) for parts in zip(*weighted, strict=True)]
    else:
        folded = [max(parts) for parts in zip(*weighted, strict=True)]
    # The final clip only absorbs float rounding: a weighted mean of [0, 1] values is in [0, 1].
    return [f if f <= 1.0 else 1.0 for f in folded]


@dataclass(frozen=True, slots=True)
class AnomalyVerdict:
    score: float
    is_anomaly: bool
    reasons: list[str]  # empty unless is_anomaly


def verdicts(
    combined: Sequence[float], features_batch: Sequence[Features], threshold: float, *, limit: int = 3
) -> list[AnomalyVerdict]:
    """An event is an anomaly when its combined score is at or above `threshold` (in [0, 1]).

    Every event gets a verdict; anomalies get reasons (see `flagged`).
    """
    found = dict(flagged(combined, features_batch, threshold, limit=limit))
    return [AnomalyVerdict(score, i in found, found.get(i, [])) for i, score in enumerate(combined)]


def flagged(
    combined: Sequence[float], features_batch: Sequence[Features], threshold: float, *, limit: int = 3
) -> list[tuple[int, list[str]]]:
    """(index, reasons) of the anomalies only: what live scoring needs, at no cost per ordinary event.

    Reasons are worked out for anomalies only (the rare case); an anomaly no rule explains
    gets NO_SINGLE_REASON, so every anomaly record says something.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if len(combined) != len(features_batch):
        raise ValueError(f"{len(combined)} scores for {len(features_batch)} feature vectors")
    return [
        (i, reasons(features_batch[i], limit=limit) or [NO_SINGLE_REASON])
        for i, score in enumerate(combined)
        if score >= threshold
    ]
