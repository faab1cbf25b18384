"""Anomaly quality floors on a labelled generated stream, scored the way the platform scores it.

50,000 events at 10 events/s, 1 % of them in injected episodes of all five kinds; about 10 s a seed.
"""

from __future__ import annotations

import pytest

from adapters.ml.stream_evaluation import labelled_stream_benchmark
from application.traffic_anomalies import ANOMALY_KINDS


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11])
def test_the_combined_score_reaches_the_floors(seed):
    result = labelled_stream_benchmark(50_000, seed=seed)
    assert set(result["kinds"]) == set(ANOMALY_KINDS), result["kinds"]
    assert result["combined"]["roc_auc"] >= 0.95, result
    # PR-AUC of a random detector is the anomaly rate, about 0.01
    assert result["combined"]["pr_auc"] >= 0.6, result
    # at the default threshold an alert is right at least as often as not, and most anomalies alert
    assert result["combined"]["precision"] >= 0.5 and result["combined"]["recall"] >= 0.7, result
