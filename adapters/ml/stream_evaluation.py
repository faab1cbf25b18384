"""Detector quality on a labelled generated stream, scored the way the live platform scores it.

The stream is `application.traffic_anomalies.generate_labelled` at 10 events/s (so per-minute and
per-hour counts look like a real site's), 1 % of its events in injected anomalous episodes. Features
come from `domain.features.extract` in stream order (event time = timestamp), then `prepare`. Then:

* Isolation Forest is fitted on the first `train_fraction` of events, unlabelled (anomalies
  included, as in production data) and scores the rest;
* Half-Space Trees (`BatchedHalfSpaceTrees`, as the platform runs them: River's trees and scores,
  batch-wise) run score-then-learn over the whole stream from an empty model;
* the combined score is `domain.scoring.combine([if, hst], DEFAULT_WEIGHTS, mode=COMBINE_MODE)`.

Only the events after the training window are measured: ROC-AUC (`roc_auc_score`), PR-AUC
(`average_precision_score`; a random detector scores the anomaly rate) and, at DEFAULT_THRESHOLD,
precision and recall overall and recall per anomaly kind.

Configuration: what the detectors see (`prepare`), how scores combine and the threshold are the
domain's (`domain.detection`); the hyper-parameters (`adapters.ml.tuning`) were tuned here, on
this stream. With the amount z-score and ratio to median back among the inputs, IF's PR-AUC fell
from 0.82 to 0.64 (see `domain.detection`).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.isolation_forest import SklearnIsolationForest
from adapters.ml.tuning import HST_PARAMS, IF_PARAMS
from application.traffic_anomalies import ANOMALY_KINDS, generate_labelled
from domain.detection import COMBINE_MODE, DEFAULT_THRESHOLD, DEFAULT_WEIGHTS, PREPARED_NAMES, prepare_batch
from domain.features import extract
from domain.scoring import combine

TRAIN_FRACTION = 0.3
START = datetime(2024, 5, 1, 12, tzinfo=UTC)


def labelled_stream_benchmark(
    count: int = 50_000,
    *,
    seed: int = 7,
    anomaly_rate: float = 0.01,
    rate: float = 10.0,
    train_fraction: float = TRAIN_FRACTION,
    if_params: dict[str, Any] | None = None,
    hst_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, threshold figures and run times of IF, HST and their combination."""
    if not 0 < train_fraction < 1:
        raise ValueError("train_fraction must be in (0, 1)")
    started = time.perf_counter()
    labelled = list(generate_labelled(count, seed=seed, start=START, rate=rate, anomaly_rate=anomaly_rate))
    generated = time.perf_counter()
    features, _ = extract((item.event, item.event.timestamp) for item in labelled)
    rows = prepare_batch(features)
    featured = time.perf_counter()
    train = max(1, int(len(rows) * train_fraction))
    kinds = np.array([item.anomaly or "" for item in labelled[train:]], dtype=object)
    labels = kinds != ""
    if labels.all() or not labels.any():
        raise ValueError(f"the scored events (after the first {train}) need both normal and anomalous ones")

    if_params = {**IF_PARAMS, **(if_params or {})}
    fitted_params = {**if_params, "max_samples": min(if_params["max_samples"], train)}
    forest = SklearnIsolationForest().fit(rows[:train], **fitted_params)
    fitted = time.perf_counter()
    if_scores = forest.score(rows[train:])
    if_scored = time.perf_counter()
    hst_params = {**HST_PARAMS, **(hst_params or {})}
    trees = BatchedHalfSpaceTrees(**hst_params, feature_names=PREPARED_NAMES)
    hst_scores = trees.score_then_learn(rows)[train:]
    hst_done = time.perf_counter()

    weights = [DEFAULT_WEIGHTS[forest.name], DEFAULT_WEIGHTS[trees.name]]
    combined = np.asarray(combine([if_scores, hst_scores], weights, mode=COMBINE_MODE))
    flagged = combined >= DEFAULT_THRESHOLD
    hits = int((flagged & labels).sum())
    per_kind = {}
    for kind, events in sorted(Counter(kinds[labels]).items(), key=lambda kv: ANOMALY_KINDS.index(kv[0])):
        mine, versus = kinds == kind, ~labels | (kinds == kind)
        per_kind[kind] = {
            "events": events,
            "recall": round(float(flagged[mine].mean()), 4),
            "roc_auc": round(float(roc_auc_score(mine[versus], combined[versus])), 4),
        }
    return {
        "dataset": "application.traffic_anomalies.generate_labelled",
        "events": len(labelled),
        "seed": seed,
        "rate": rate,
        "anomaly_rate": anomaly_rate,
        "train_events": train,
        "scored_events": len(kinds),
        "scored_anomalies": int(labels.sum()),
        "features": list(PREPARED_NAMES),
        "isolation_forest": {
            **_quality(labels, if_scores),
            "params": fitted_params,
            "fit_seconds": round(fitted - featured, 3),
            "score_seconds": round(if_scored - fitted, 3),
        },
        "half_space_trees": {
            **_quality(labels, hst_scores),
            "params": hst_params,
            "protocol": "score-then-learn, whole stream",
            "seconds": round(hst_done - if_scored, 3),
            "us_per_event": round((hst_done - if_scored) / len(rows) * 1e6, 1),
        },
        "combined": {
            **_quality(labels, combined),
            "weights": dict(DEFAULT_WEIGHTS),
            "mode": COMBINE_MODE,
            "threshold": DEFAULT_THRESHOLD,
            "flagged": int(flagged.sum()),
            "precision": round(hits / max(int(flagged.sum()), 1), 4),
            "recall": round(hits / int(labels.sum()), 4),
        },
        "kinds": per_kind,
        "seconds": {
            "generate": round(generated - started, 3),
            "features": round(featured - generated, 3),
            "total": round(time.perf_counter() - started, 3),
        },
    }


def _quality(labels: np.ndarray, scores: Any) -> dict[str, float]:
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
    }


if __name__ == "__main__":  # python -m adapters.ml.stream_evaluation [count] [seed]
    import json
    import sys

    count, seed = [int(a) for a in sys.argv[1:3]] + [50_000, 7][len(sys.argv[1:3]) :]
    print(json.dumps(labelled_stream_benchmark(count, seed=seed), indent=2))
