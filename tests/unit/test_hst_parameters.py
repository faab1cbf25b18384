"""Both Half-Space Trees detectors check their parameters the same way, in one place."""

import pytest

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.half_space_trees import RiverHalfSpaceTrees

DETECTORS = [RiverHalfSpaceTrees, BatchedHalfSpaceTrees]


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("bad", [{"n_trees": 0}, {"height": 0}, {"window_size": 0}, {"window_size": -5}])
def test_a_size_below_one_is_refused(detector, bad):
    with pytest.raises(ValueError, match="must be positive"):
        detector(**bad)


@pytest.mark.parametrize("detector", DETECTORS)
def test_repeated_feature_names_are_refused(detector):
    with pytest.raises(ValueError, match="must be distinct"):
        detector(n_trees=2, height=2, feature_names=["a", "b", "a"])


@pytest.mark.parametrize("detector", DETECTORS)
def test_parameters_are_kept_and_warm_after_one_window(detector):
    made = detector(n_trees=3, height=4, window_size=17, seed=7, feature_names=["a", "b"], name="x")
    assert (made.name, made.n_trees, made.height, made.window_size, made.seed) == ("x", 3, 4, 17, 7)
    assert made.params()["feature_names"] == ["a", "b"]
    assert made.learned == 0
    assert made.warm_at == 17


@pytest.mark.parametrize("detector", DETECTORS)
def test_an_unnamed_detector_reports_no_names_after_learning_and_says_what_it_is(detector):
    made = detector(n_trees=2, height=3, window_size=4, seed=1)
    made.learn([(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)])
    assert made.params() == {"n_trees": 2, "height": 3, "window_size": 4, "seed": 1, "feature_names": None}
    assert made.learned == 3
    assert repr(made) == f"{detector.__name__}(n_trees=2, height=3, window_size=4, seed=1, learned=3)"
