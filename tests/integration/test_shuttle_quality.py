"""Detector quality on River's Shuttle stream (bundled with River: no network).

The slow test holds the floors of the anomaly design card on the full stream (about 6 s);
the fast one runs the same benchmark on the first 5,000 rows to check that it works.
"""

from __future__ import annotations

import pytest

from adapters.ml.evaluation import shuttle_benchmark


@pytest.mark.slow
def test_both_detectors_reach_the_design_cards_floors_on_the_full_stream():
    result = shuttle_benchmark()
    assert result["samples"] == 49_097 and result["anomalies"] == 3_511
    assert result["isolation_forest"]["roc_auc"] >= 0.99, result
    assert result["half_space_trees"]["roc_auc"] >= 0.95, result
    # PR-AUC of a random detector is the anomaly rate, 0.07
    assert result["isolation_forest"]["pr_auc"] >= 0.9, result
    assert result["half_space_trees"]["pr_auc"] >= 0.6, result


def test_the_benchmark_runs_on_the_start_of_the_stream():
    result = shuttle_benchmark(limit=5_000)
    assert result["samples"] == 5_000 and 0 < result["anomalies"] < 5_000
    for detector in ("isolation_forest", "half_space_trees"):
        figures = result[detector]
        assert 0.8 < figures["roc_auc"] <= 1.0, result
        assert 0.0 < figures["pr_auc"] <= 1.0, result
    assert result["isolation_forest"]["train_samples"] == 1_000
    assert result["half_space_trees"]["us_per_event"] > 0
