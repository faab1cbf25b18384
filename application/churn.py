"""Training a churn model with a time-aware split, then scoring every user.

The event history `[t0, t1]` is cut in time, never shuffled (fractions of the span `t1 - t0`,
defaults of `ChurnSplit`)::

    t0 ............ cutoff_train (50%) ........ cutoff_validation (75%) ........ t1
    |-- observation --|-- training labels --|
                      |-------- observation -------|-- validation labels --|
                                                   |------ observation ------|= scoring at t1

- train: features at `cutoff_train` (from the `observation` before it, see `domain.churn`),
  labelled churned when the user has no event in `(cutoff_train, cutoff_train + horizon]`;
- validate: features at `cutoff_validation`, labels from `(cutoff_validation, t1]`; the
  model never saw anything after `cutoff_train + horizon` = `cutoff_validation`, so the
  validation ROC-AUC is an honest estimate of how it ranks users it has to predict;
- score: features at `t1` for every user, with the validated model (what the metrics
  describe is what gets deployed).

The observation window has the same length at every cutoff (`ChurnSplit.observation`, by
default `cutoff_train - t0`: all the history the training cutoff has), so the relative features
mean the same thing in training, validation and scoring. A cutoff's users are those with an
event in its observation window. Scoring covers every user seen by `t1`, including users
silent all window long: none exist at the training cutoff, so their scores extrapolate the
model (recency and overdue, both large for them, push towards churn). `t1` is the newest
event time, or `now` if events are stamped later than that (they are then left out).

Pure orchestration over two ports: where events come from (`ChurnEventSource`) and the
learner (`ChurnModel`); the ROC-AUC is computed here, in plain Python.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.churn import FEATURES, ChurnEvent, churn_features, churn_label
from domain.errors import AnalyticsError


class ChurnEventSource(Protocol):
    def events_by_user(self, until: datetime) -> dict[str, list[ChurnEvent]]:
        """Every user's events stamped at or before `until`, each user's in time order."""
        ...

    def time_span(self) -> tuple[datetime, datetime] | None:
        """The first and last event times, or None when there is no event."""
        ...


class ChurnModel(Protocol):
    def fit(self, X: Sequence[Sequence[float]], y: Sequence[int]) -> Any:
        """Learn from feature rows (`domain.churn.FEATURES` order) and labels (1 = churned)."""
        ...

    def predict_proba(self, X: Sequence[Sequence[float]]) -> list[float]:
        """The probability of churn of each row, in [0, 1]."""
        ...


class NotEnoughHistory(AnalyticsError):
    """The events cannot support a time-aware split (too short, or one class only)."""


@dataclass(frozen=True)
class ChurnSplit:
    """Where the cuts fall, as fractions of the data's time span."""

    train_cutoff: float = 0.50
    validation_cutoff: float = 0.75
    horizon: float = 0.25  # label window after a cutoff; validation_cutoff + horizon <= 1
    observation: float = 0.50  # feature window before a cutoff; at most train_cutoff

    def __post_init__(self) -> None:
        if not 0.0 < self.train_cutoff < self.validation_cutoff < 1.0:
            raise ValueError("need 0 < train_cutoff < validation_cutoff < 1")
        if self.horizon <= 0 or self.train_cutoff + self.horizon > self.validation_cutoff + 1e-9:
            raise ValueError("training labels must end by the validation cutoff (horizon too long)")
        if self.validation_cutoff + self.horizon > 1.0 + 1e-9:
            raise ValueError("validation labels must end by the end of the data")
        if not 0.0 < self.observation <= self.train_cutoff:
            raise ValueError("the observation window must fit before the training cutoff")


@dataclass(frozen=True)
class ChurnCutoffs:
    t0: datetime
    t1: datetime
    train: datetime
    validation: datetime
    observation: timedelta
    horizon: timedelta

    def as_dict(self) -> dict[str, Any]:
        return {
            "t0": self.t0.isoformat(),
            "t1": self.t1.isoformat(),
            "train_cutoff": self.train.isoformat(),
            "validation_cutoff": self.validation.isoformat(),
            "observation_seconds": self.observation.total_seconds(),
            "horizon_seconds": self.horizon.total_seconds(),
        }


@dataclass(frozen=True)
class ChurnTrainingResult:
    model: ChurnModel  # fitted on the training cutoff; validated; used for `scores`
    scores: dict[str, float]  # user_id -> churn probability at t1
    cutoffs: ChurnCutoffs
    metrics: dict[str, float | int | None]
    params: dict[str, Any] = field(default_factory=dict)
    scored_at: datetime | None = None


def train_churn(
    source: ChurnEventSource,
    make_model: Callable[[], ChurnModel],
    *,
    now: datetime,
    split: ChurnSplit = ChurnSplit(),
) -> ChurnTrainingResult:
    """Train on an earlier cutoff, validate on a later one, score every user at the end.

    Events stamped after `now` are ignored. Raises `NotEnoughHistory` when there are no
    events, they span no time, or the training labels are all of one class.
    """
    span = source.time_span()
    if span is None:
        raise NotEnoughHistory("no events to learn churn from")
    t0, t1 = span[0], min(span[1], now)
    if t1 <= t0:
        raise NotEnoughHistory("the events span no time: nothing to split")
    length = t1 - t0
    cutoffs = ChurnCutoffs(
        t0=t0,
        t1=t1,
        train=t0 + length * split.train_cutoff,
        validation=t0 + length * split.validation_cutoff,
        observation=length * split.observation,
        horizon=length * split.horizon,
    )
    events = source.events_by_user(until=t1)

    x_train, y_train = labelled_rows(events, cutoffs.train, cutoffs.train + cutoffs.horizon, cutoffs.observation)
    if len(set(y_train)) < 2:
        raise NotEnoughHistory(f"training labels are all of one class ({len(y_train)} users)")
    model = make_model()
    model.fit(list(x_train.values()), list(y_train))

    x_val, y_val = labelled_rows(events, cutoffs.validation, t1, cutoffs.observation)
    val_scores = model.predict_proba(list(x_val.values())) if x_val else []
    train_scores = model.predict_proba(list(x_train.values()))

    users = sorted(events)
    x_now = [churn_features(events[user], t1, observation=cutoffs.observation) for user in users]
    probabilities = model.predict_proba(x_now) if x_now else []
    scores = {user: min(1.0, max(0.0, float(p))) for user, p in zip(users, probabilities, strict=True)}

    metrics: dict[str, float | int | None] = {
        "validation_roc_auc": roc_auc(y_val, val_scores),
        "train_roc_auc": roc_auc(y_train, train_scores),
        "train_users": len(y_train),
        "train_churn_rate": sum(y_train) / len(y_train),
        "validation_users": len(y_val),
        "validation_churn_rate": sum(y_val) / len(y_val) if y_val else None,
        "scored_users": len(scores),
        "mean_probability": sum(scores.values()) / len(scores) if scores else None,
    }
    params = {
        "features": list(FEATURES),
        "split": {
            "train_cutoff": split.train_cutoff,
            "validation_cutoff": split.validation_cutoff,
            "horizon": split.horizon,
        },
    }
    return ChurnTrainingResult(model, scores, cutoffs, metrics, params, scored_at=now)


def labelled_rows(
    events: Mapping[str, Sequence[ChurnEvent]], cutoff: datetime, label_end: datetime, observation: timedelta
) -> tuple[dict[str, tuple[float, ...]], list[int]]:
    """Features at `cutoff` and labels from `(cutoff, label_end]`, for the users active in the window.

    Active: at least one event in `[cutoff - observation, cutoff]`. Rows are in user order.
    """
    start = cutoff - observation
    rows: dict[str, tuple[float, ...]] = {}
    labels: list[int] = []
    for user in sorted(events):
        history = events[user]
        if not any(start <= e[0] <= cutoff for e in history):
            continue
        rows[user] = churn_features(history, cutoff, observation=observation)
        labels.append(churn_label(sum(1 for e in history if cutoff < e[0] <= label_end)))
    return rows, labels


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve (1 = positive), by the Mann-Whitney U statistic.

    Tied scores share their average rank (a tie counts half). None without both classes.
    """
    if len(labels) != len(scores):
        raise ValueError("labels and scores differ in length")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks are 1-based
        rank_sum += average_rank * sum(1 for k in order[i : j + 1] if labels[k])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
