"""Detector quality on River's Shuttle stream, the figures behind the anomaly design card.

Shuttle (UCI Statlog, as shipped inside the River wheel, no download): 49,097 rows of 9 numeric
features in their original order, 3,511 (7.15 %) labelled anomalous.

* Isolation Forest is fitted on the first `train_fraction` (default 20 %) of the stream and then
  scores *all* of it, training rows included, as a deployed model would score a replay. The
  training window is unlabelled and contains anomalies at the stream's own rate: the fit is
  unsupervised, labels are only used to measure. (Fitting on the whole stream instead gives
  about the same ROC-AUC, 0.997, but tests on its own training data.)
* Half-Space Trees (`BatchedHalfSpaceTrees`, as the platform runs them: River's trees and scores,
  batch-wise) run score-then-learn over the whole stream in order, from an empty model;
  the first window's rows all score 0 (the trees have no reference mass yet) and still count.

ROC-AUC is `sklearn.metrics.roc_auc_score`; PR-AUC is `average_precision_score` (the step-wise
area under the precision-recall curve; a random detector scores the anomaly rate, 0.07).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from river import datasets
from sklearn.metrics import average_precision_score, roc_auc_score

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.isolation_forest import SklearnIsolationForest

HST_PARAMS: dict[str, Any] = {"n_trees": 25, "height": 10, "window_size": 250, "seed": 42}
IF_PARAMS: dict[str, Any] = {"n_estimators": 200, "contamination": "auto", "random_state": 42}


def load_shuttle(limit: int | None = None) -> tuple[list[tuple[float, ...]], list[str], np.ndarray]:
    """The first `limit` rows (all by default) as (feature rows, feature names, labels 0/1)."""
    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    names: list[str] = []
    for x, y in datasets.Shuttle():
        if limit is not None and len(rows) >= limit:
            break
        if not names:
            names = list(x)
        rows.append(tuple(float(x[name]) for name in names))
        labels.append(int(y))
    return rows, names, np.asarray(labels, dtype=np.int8)


def shuttle_benchmark(
    limit: int | None = None,
    *,
    train_fraction: float = 0.2,
    hst_params: dict[str, Any] | None = None,
    if_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """ROC-AUC, PR-AUC and run times of both detectors on the first `limit` rows of Shuttle."""
    if not 0 < train_fraction <= 1:
        raise ValueError("train_fraction must be in (0, 1]")
    load_started = time.perf_counter()
    rows, names, labels = load_shuttle(limit)
    load_seconds = time.perf_counter() - load_started
    if labels.min(initial=1) == labels.max(initial=0):
        raise ValueError("the selected rows hold a single class; take more of the stream")

    if_params = {**IF_PARAMS, **(if_params or {})}
    matrix = np.asarray(rows, dtype=np.float64)
    train = matrix[: max(1, int(len(matrix) * train_fraction))]
    started = time.perf_counter()
    forest = SklearnIsolationForest().fit(train, **if_params)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if_scores = forest.score_array(matrix)
    score_seconds = time.perf_counter() - started

    hst_params = {**HST_PARAMS, **(hst_params or {})}
    trees = BatchedHalfSpaceTrees(**hst_params, feature_names=names)
    started = time.perf_counter()
    hst_scores = trees.score_then_learn(rows)
    hst_seconds = time.perf_counter() - started

    return {
        "dataset": "river.datasets.Shuttle",
        "samples": len(rows),
        "anomalies": int(labels.sum()),
        "load_seconds": round(load_seconds, 3),
        "isolation_forest": {
            **_quality(labels, if_scores),
            "params": if_params,
            "train_samples": len(train),
            "fit_seconds": round(fit_seconds, 3),
            "score_seconds": round(score_seconds, 3),
            "rows_per_second": round(len(rows) / score_seconds),
        },
        "half_space_trees": {
            **_quality(labels, hst_scores),
            "params": hst_params,
            "protocol": "score-then-learn",
            "seconds": round(hst_seconds, 3),
            "us_per_event": round(hst_seconds / len(rows) * 1e6, 1),
        },
    }


def _quality(labels: np.ndarray, scores: Any) -> dict[str, float]:
    return {
        "roc_auc": round(float(roc_auc_score(labels, scores)), 4),
        "pr_auc": round(float(average_precision_score(labels, scores)), 4),
    }


if __name__ == "__main__":  # python -m adapters.ml.evaluation [limit]
    import json
    import sys

    print(json.dumps(shuttle_benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
