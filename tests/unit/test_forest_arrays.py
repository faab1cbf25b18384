"""`ForestArrays` must score exactly as scikit-learn's own `score_samples`, bit for bit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from adapters.ml.forest_arrays import ForestArrays
from adapters.ml.isolation_forest import SklearnIsolationForest

RNG = np.random.default_rng(7)
TRAIN = RNG.normal(size=(3000, 20))
# Ordinary rows, far outliers, rows sitting on split thresholds' float32 rounding, and missing values.
PROBE = np.vstack([RNG.normal(size=(500, 20)), RNG.normal(size=(50, 20)) * 40, TRAIN[:50] + 1e-9])
WITH_NAN = PROBE.copy()
WITH_NAN[::7, 3] = np.nan


@pytest.mark.parametrize("max_features", [1.0, 0.5], ids=["all features", "feature subsets"])
@pytest.mark.parametrize("max_samples", [256, 1])
def test_scores_equal_scikit_learns_bit_for_bit(max_features, max_samples):
    model = IsolationForest(n_estimators=40, max_samples=max_samples, max_features=max_features, random_state=3)
    model.fit(TRAIN)
    arrays = ForestArrays(model)
    for rows in (PROBE, WITH_NAN, PROBE[:1]):
        assert np.array_equal(arrays.score_samples(rows), model.score_samples(rows))


def test_the_detector_scores_with_the_arrays_and_saves_without_them():
    detector = SklearnIsolationForest().fit(TRAIN, n_estimators=30, random_state=0)
    expected = np.clip(-detector._model.score_samples(PROBE), 0.0, 1.0)
    assert np.array_equal(detector.score_array(PROBE), expected)
    assert detector._arrays is not None
    restored = pickle.loads(pickle.dumps(detector))
    assert restored._arrays is None  # rebuilt from the forest when first used
    assert np.array_equal(restored.score_array(PROBE), expected)


def test_a_detector_saved_before_the_arrays_existed_still_scores():
    detector = SklearnIsolationForest().fit(TRAIN, n_estimators=30, random_state=0)
    del detector.__dict__["_arrays"]  # what unpickling an older saved model gives
    restored = pickle.loads(pickle.dumps(detector))
    assert np.array_equal(restored.score_array(PROBE), np.clip(-restored._model.score_samples(PROBE), 0.0, 1.0))
