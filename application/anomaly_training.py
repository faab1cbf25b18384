"""Training the batch anomaly detector on the latest window of events, then versioning it.

The training window is the last `window` of event time: `[t1 - window, t1]`, both ends included,
where `t1` is the newest event time, or `now` when events are stamped later than that (they are
then left out). Events older than the window are not read at all: their users' feature state
starts empty at the window's start, as a live run started then would have it.

The events are read in event-time order (`AnomalyEventSource`), turned into features with
`domain.features.extract` in that order, then into the detectors' input with
`domain.detection.prepare`; the batch detector is fitted on every prepared row, unlabelled
(anomalies included, as in production data). Before it is saved it is evaluated on the same rows:

- always, the training scores' quantiles (p50, p90, p99, p99.9) and the share of training events
  whose batch score alone reaches `DEFAULT_THRESHOLD` (the combined score's threshold: how often
  this detector alone would carry an event over it);
- with labels (`{event_id: is_anomaly}`, e.g. the ground truth of `analytics generate --labels`),
  ROC-AUC (`application.churn.roc_auc`) and PR-AUC (average precision) over the labelled training
  events, computed here in plain Python. These are in-sample figures: a sanity check of what the
  detector learned, not an estimate of its quality on unseen traffic (`analytics evaluate`).

The fitted detector is saved through the `ModelRegistry` port (kind `BATCH_DETECTOR`, features
`PREPARED_NAMES`), and the version it gets is recorded with its training-event count in the
`ModelCatalog`. Too few events raise `NotEnoughEvents` before anything is fitted or saved.

Pure orchestration over four ports: the events (`AnomalyEventSource`), the learner
(`DetectorFactory`, so this module does not know scikit-learn), the model files (`ModelRegistry`)
and the catalog of versions (`ModelCatalog`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import floor
from typing import Any, Protocol

from application.churn import roc_auc
from domain.detection import BATCH_DETECTOR, DEFAULT_THRESHOLD, PREPARED_NAMES, prepare_batch
from domain.errors import AnalyticsError
from domain.events import UserEvent
from domain.features import Features, extract
from domain.scoring import Detector, ModelInfo, ModelRegistry, ModelVersion

DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_MIN_EVENTS = 1_000
SCORE_QUANTILES: dict[str, float] = {"score_p50": 0.50, "score_p90": 0.90, "score_p99": 0.99, "score_p99_9": 0.999}


class AnomalyEventSource(Protocol):
    def newest_event_time(self) -> datetime | None:
        """The latest event time in the store, or None when there is no event."""
        ...

    def events_between(self, start: datetime, end: datetime) -> Iterable[tuple[UserEvent, datetime]]:
        """(event, event time) of every event stamped in `[start, end]`, in event-time order.

        Ties are broken by a fixed key (e.g. the event id), so two reads give the same order.
        Read lazily: the caller consumes the pairs once, as they come.
        """
        ...


@dataclass(frozen=True)
class FittedDetector:
    detector: Detector
    params: dict[str, Any]  # the hyper-parameters it was fitted with, recorded with the model


class DetectorFactory(Protocol):
    def __call__(self, rows: Sequence[Features]) -> FittedDetector:
        """A detector fitted on `rows` (prepared vectors, `PREPARED_NAMES` order), and its parameters."""
        ...


@dataclass(frozen=True)
class CatalogEntry:
    model: ModelVersion
    training_events: int


class ModelCatalog(Protocol):
    """The index of saved batch models (the registry keeps the models themselves)."""

    def record(self, version: ModelVersion, training_events: int) -> None:
        """Add a saved version; recording the same version again changes nothing."""
        ...

    def latest(self, kind: str) -> ModelVersion | None:
        """The most recently created version of `kind` (ties: the greatest version), or None."""
        ...

    def list(self, kind: str, limit: int = 20) -> list[CatalogEntry]:
        """Up to `limit` versions of `kind`, newest first (the order of `latest`)."""
        ...


class NotEnoughEvents(AnalyticsError):
    """The training window holds too few events to fit a detector worth saving."""


@dataclass(frozen=True)
class AnomalyTrainingReport:
    model: ModelVersion  # as saved in the registry and recorded in the catalog
    training_events: int
    window_start: datetime
    window_end: datetime
    metrics: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        info = self.model.info
        return {
            "model_version": self.model.version,
            "kind": info.kind,
            "created_at": self.model.created_at.isoformat(),
            "training_events": self.training_events,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            **self.metrics,
            "params": dict(info.params),
        }


def train_anomaly(
    source: AnomalyEventSource,
    registry: ModelRegistry,
    catalog: ModelCatalog,
    *,
    now: datetime,
    detector_factory: DetectorFactory,
    window: timedelta = DEFAULT_WINDOW,
    min_events: int = DEFAULT_MIN_EVENTS,
    labels: Mapping[str, bool] | None = None,
    kind: str = BATCH_DETECTOR,
    progress: Callable[[str], None] | None = None,
) -> AnomalyTrainingReport:
    """Fit the batch detector on the last `window` of events, evaluate it, save it and catalog it.

    `labels` maps event ids (as strings) to whether the event is anomalous; events without a
    label are left out of ROC-AUC and PR-AUC. `progress` hears what the training is doing.
    Raises `NotEnoughEvents` (nothing saved) when the window holds fewer than `min_events`.
    """
    if window <= timedelta(0):
        raise ValueError(f"the training window must be positive, got {window}")
    if min_events < 1:
        raise ValueError(f"min_events must be at least 1, got {min_events}")
    say = progress or (lambda _: None)

    newest = source.newest_event_time()
    if newest is None:
        raise NotEnoughEvents("no events to train an anomaly detector on")
    t1 = min(newest, now)
    t0 = t1 - window

    say(f"reading events from {t0.isoformat()} to {t1.isoformat()}")
    event_ids: list[str] = []
    timed = source.events_between(t0, t1)
    if labels is not None:
        timed = _noting_ids(timed, event_ids)
    features, _ = extract(timed)
    if len(features) < min_events:
        raise NotEnoughEvents(
            f"{len(features):,} events between {t0.isoformat()} and {t1.isoformat()}, "
            f"fewer than the {min_events:,} needed to train"
        )
    rows = prepare_batch(features)
    del features

    say(f"fitting the {kind!r} detector on {len(rows):,} events")
    fitted = detector_factory(rows)

    say(f"scoring {len(rows):,} training events")
    scores = fitted.detector.score(rows)
    if len(scores) != len(rows):
        raise ValueError(f"the detector gave {len(scores)} scores for {len(rows)} rows")
    metrics = score_summary(scores)
    if labels is not None:
        metrics.update(labelled_quality(event_ids, scores, labels))

    say("saving the model")
    info = ModelInfo(
        kind=kind,
        params={**fitted.params, "window_seconds": window.total_seconds()},
        trained_from=t0,
        trained_to=t1,
        metrics=metrics,
        features=PREPARED_NAMES,
    )
    version = registry.save(fitted.detector, info)
    catalog.record(version, len(rows))
    return AnomalyTrainingReport(version, len(rows), t0, t1, dict(version.info.metrics))


def _noting_ids(timed: Iterable[tuple[UserEvent, datetime]], ids: list[str]) -> Iterable[tuple[UserEvent, datetime]]:
    for event, event_time in timed:
        ids.append(str(event.event_id))
        yield event, event_time


def score_summary(scores: Sequence[float], *, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """Quantiles of the scores (`SCORE_QUANTILES`), `threshold`, and the share of scores at or above it."""
    if not scores:
        raise ValueError("no scores to summarise")
    ordered = sorted(scores)
    summary = {name: quantile(ordered, q) for name, q in SCORE_QUANTILES.items()}
    summary["threshold"] = threshold
    summary["share_at_threshold"] = sum(1 for s in scores if s >= threshold) / len(scores)
    return summary


def labelled_quality(event_ids: Sequence[str], scores: Sequence[float], labels: Mapping[str, bool]) -> dict[str, float]:
    """ROC-AUC and PR-AUC of the scores of the labelled events, and how many there were.

    The AUCs are left out when the labelled events are not of both classes.
    """
    if len(event_ids) != len(scores):
        raise ValueError("event ids and scores differ in length")
    truth: list[int] = []
    scored: list[float] = []
    for event_id, score in zip(event_ids, scores, strict=True):
        label = labels.get(event_id)
        if label is not None:
            truth.append(int(bool(label)))
            scored.append(score)
    quality: dict[str, float] = {"labelled_events": float(len(truth)), "labelled_anomalies": float(sum(truth))}
    auc = roc_auc(truth, scored)
    precision = average_precision(truth, scored)
    if auc is not None and precision is not None:
        quality["roc_auc"] = auc
        quality["pr_auc"] = precision
    return quality


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """PR-AUC as average precision: sum over score thresholds of (recall gain) x precision there.

    Thresholds are the distinct scores, highest first; tied scores enter together. Equal to
    scikit-learn's `average_precision_score`. None without a positive.
    """
    if len(labels) != len(scores):
        raise ValueError("labels and scores differ in length")
    positives = sum(1 for y in labels if y)
    if positives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    area = 0.0
    true_hits = seen = 0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        gained = sum(1 for k in order[i : j + 1] if labels[k])
        true_hits += gained
        seen += j - i + 1
        area += gained / positives * (true_hits / seen)
        i = j + 1
    return area


def quantile(ordered: Sequence[float], q: float) -> float:
    """The `q` quantile of sorted values, linearly interpolated (numpy's default method)."""
    if not ordered:
        raise ValueError("no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    position = q * (len(ordered) - 1)
    low = floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
