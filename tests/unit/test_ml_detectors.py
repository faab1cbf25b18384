"""The anomaly detectors and their file registry, on small synthetic data (well under a second)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
import pytest

from adapters.ml.half_space_trees import RiverHalfSpaceTrees
from adapters.ml.isolation_forest import SklearnIsolationForest
from adapters.ml.model_store import CorruptModel, FileModelRegistry
from domain.errors import NotFound
from domain.scoring import Detector, ModelInfo, OnlineDetector

SMALL = {"n_trees": 10, "height": 8}  # River's defaults: quick to build; the tuned trees are for the Shuttle test
OUTLIERS = [(8.0, 8.0, 8.0), (-8.0, 7.0, 0.0), (0.0, -9.0, 9.0), (6.0, 0.0, -7.0), (5.0, 5.0, 5.0)]


def _rows(n: int, seed: int) -> list[tuple[float, ...]]:
    return [tuple(row) for row in np.random.default_rng(seed).normal(0.0, 1.0, size=(n, 3)).tolist()]


TRAIN = _rows(1000, seed=0)
INLIERS = _rows(200, seed=1)


def _trained_hst(**params) -> RiverHalfSpaceTrees:
    detector = RiverHalfSpaceTrees(**{**SMALL, "window_size": 250, "seed": 0, **params})
    detector.learn(TRAIN)
    return detector


def _fitted_if() -> SklearnIsolationForest:
    return SklearnIsolationForest().fit(TRAIN, n_estimators=50, random_state=0)


@pytest.fixture(params=["hst", "if"])
def detector(request):
    return _trained_hst() if request.param == "hst" else _fitted_if()


def test_the_adapters_implement_the_scoring_ports():
    assert isinstance(_trained_hst(), OnlineDetector)
    assert isinstance(_fitted_if(), Detector) and not isinstance(_fitted_if(), OnlineDetector)


def test_scores_are_floats_between_zero_and_one(detector):
    scores = detector.score(INLIERS + OUTLIERS)
    assert len(scores) == len(INLIERS) + len(OUTLIERS)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert detector.score([]) == []


def test_obvious_outliers_score_above_the_inliers(detector):
    inliers = detector.score(INLIERS)
    outliers = detector.score(OUTLIERS)
    assert min(outliers) > np.percentile(inliers, 95)
    assert np.mean(outliers) > np.mean(inliers)


def test_scoring_does_not_learn(detector):
    first = detector.score(INLIERS + OUTLIERS)
    assert detector.score(INLIERS + OUTLIERS) == first


def test_rows_of_the_wrong_width_are_refused(detector):
    with pytest.raises(ValueError):
        detector.score([(1.0, 2.0)])


# --- Half-Space Trees ---------------------------------------------------------------------------


def test_hst_scores_zero_until_its_first_window_is_learned():
    detector = RiverHalfSpaceTrees(**SMALL, window_size=50, seed=0)
    assert detector.score_then_learn(TRAIN[:50]) == [0.0] * 50
    assert all(s > 0 for s in detector.score(INLIERS))


def test_hst_learns_a_repeated_point_as_normal():
    detector = _trained_hst()
    point = (2.5, -2.5, 2.5)
    before = detector.score([point])[0]
    detector.learn([point] * 500)  # two whole windows of it
    after = detector.score([point])[0]
    assert after < before - 0.5
    assert detector.learned == len(TRAIN) + 500


def test_score_then_learn_scores_each_row_before_learning_it_whatever_the_batching():
    stream = TRAIN[:600]
    one_batch = RiverHalfSpaceTrees(**SMALL, window_size=100, seed=3).score_then_learn(stream)
    stepwise = RiverHalfSpaceTrees(**SMALL, window_size=100, seed=3)
    by_row = [stepwise.score_then_learn([row])[0] for row in stream]
    split = RiverHalfSpaceTrees(**SMALL, window_size=100, seed=3)
    by_chunks = [s for i in range(0, len(stream), 37) for s in split.score_then_learn(stream[i : i + 37])]
    assert one_batch == by_row == by_chunks

    manual = RiverHalfSpaceTrees(**SMALL, window_size=100, seed=3)
    expected = []
    for row in stream:
        expected.append(manual.score([row])[0])
        manual.learn([row])
    assert one_batch == expected


def test_hst_feature_names_key_the_river_dicts():
    named = RiverHalfSpaceTrees(**SMALL, window_size=100, seed=0, feature_names=["a", "b", "c"])
    named.learn(TRAIN[:300])
    with pytest.raises(ValueError):
        named.learn([(1.0, 2.0)])
    assert named.params()["feature_names"] == ["a", "b", "c"]


def test_hst_state_survives_a_pickle_round_trip():
    original = _trained_hst()
    restored = RiverHalfSpaceTrees.from_bytes(original.to_bytes())
    probe = INLIERS + OUTLIERS
    assert restored.score(probe) == original.score(probe)
    # ... and both continue identically: the window counters and masses came along.
    more = _rows(400, seed=2)
    assert restored.score_then_learn(more) == original.score_then_learn(more)
    assert restored.score(probe) == original.score(probe)
    assert pickle.loads(pickle.dumps(original)).score(probe) == original.score(probe)


def test_from_bytes_refuses_another_object():
    with pytest.raises(TypeError):
        RiverHalfSpaceTrees.from_bytes(pickle.dumps({"not": "a detector"}))


# --- Isolation Forest ---------------------------------------------------------------------------


def test_if_score_is_the_papers_score():
    detector = _fitted_if()
    scores = detector.score(INLIERS)
    paper = -detector._model.score_samples(np.asarray(INLIERS))  # 2 ** (-E[h(x)] / c(n))
    assert np.allclose(scores, paper)
    assert detector.threshold == pytest.approx(0.5)  # contamination="auto"
    assert detector.score_array(np.asarray(INLIERS)).tolist() == scores


def test_if_threshold_follows_contamination():
    detector = SklearnIsolationForest().fit(TRAIN, n_estimators=50, contamination=0.05, random_state=0)
    above = np.mean(np.asarray(detector.score(TRAIN)) > detector.threshold)
    assert above == pytest.approx(0.05, abs=0.01)


def test_if_must_be_fitted_before_scoring():
    with pytest.raises(RuntimeError):
        SklearnIsolationForest().score(INLIERS)


def test_if_survives_a_joblib_round_trip(tmp_path):
    original = _fitted_if()
    joblib.dump(original, tmp_path / "if.joblib")
    assert joblib.load(tmp_path / "if.joblib").score(OUTLIERS) == original.score(OUTLIERS)


# --- the file registry --------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 15, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)  # several saves within one second
        return self.now


def test_registry_round_trip_and_latest(tmp_path):
    registry = FileModelRegistry(tmp_path / "models", clock=_Clock())
    assert registry.latest("if") is None

    forest = _fitted_if()
    info = {
        "training_window": {"start": datetime(2026, 11, 26, tzinfo=UTC), "rows": 1000},
        "metrics": {"roc_auc": 0.99},
    }
    first = registry.save(forest, info)
    assert first.startswith("if-20261127T101500-") and len(first) == len("if-20261127T101500-") + 8
    assert (tmp_path / "models" / "if" / f"{first}.joblib").is_file()
    assert (tmp_path / "models" / "if" / f"{first}.json").is_file()

    second = registry.save(_fitted_if(), {"metrics": {"roc_auc": 0.98}})
    trees = registry.save(_trained_hst(), {})
    assert registry.latest("if") == second
    assert registry.latest("hst") == trees
    assert registry.versions("if") == sorted([first, second])

    recorded = registry.info(first)
    assert recorded["version"] == first and recorded["kind"] == "if"
    assert recorded["metrics"] == {"roc_auc": 0.99}
    assert recorded["training_window"]["start"] == "2026-11-26T00:00:00+00:00"
    assert recorded["params"]["n_estimators"] == 50
    assert recorded["detector"] == "adapters.ml.isolation_forest.SklearnIsolationForest"
    assert datetime.fromisoformat(recorded["created_at"]).tzinfo is not None

    assert registry.load(first).score(OUTLIERS) == forest.score(OUTLIERS)
    assert registry.load(trees).score(OUTLIERS) == _trained_hst().score(OUTLIERS)


def test_registry_ignores_partial_writes(tmp_path):
    registry = FileModelRegistry(tmp_path, clock=_Clock())
    version = registry.save(_fitted_if(), {})
    kind_dir = tmp_path / "if"
    # a crash between the model and its sidecar, and one in the middle of a temporary file
    (kind_dir / "if-20991231T235959-deadbeef.joblib").write_bytes(b"half a mod")
    (kind_dir / ".if-20991231T235959-cafebabe.json.x1.tmp").write_text("{")
    assert registry.versions("if") == [version]
    assert registry.latest("if") == version
    with pytest.raises(NotFound):
        registry.load("if-20991231T235959-deadbeef")
    assert sorted(p.name for p in kind_dir.iterdir() if p.name.startswith(".")) == [
        ".if-20991231T235959-cafebabe.json.x1.tmp"
    ]  # a successful save leaves no temporary file behind


def test_registry_refuses_a_damaged_model_file(tmp_path):
    registry = FileModelRegistry(tmp_path)
    version = registry.save(_fitted_if(), {})
    path = tmp_path / "if" / f"{version}.joblib"
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(CorruptModel):
        registry.load(version)


@pytest.mark.parametrize(
    "version", ["nope", "../etc/passwd", "if-20261127T101500-zzzzzzzz", "if-20261127T101500-0123abcd"]
)
def test_registry_unknown_versions_are_not_found(tmp_path, version):
    registry = FileModelRegistry(tmp_path)
    with pytest.raises(NotFound):
        registry.load(version)
    with pytest.raises(NotFound):
        registry.info(version)


def test_registry_refuses_bad_kinds_and_reserved_info_keys(tmp_path):
    registry = FileModelRegistry(tmp_path)
    with pytest.raises(ValueError):
        registry.save(_fitted_if(), {}, kind="../up")
    with pytest.raises(ValueError):
        registry.save(_fitted_if(), {"version": "mine"})
    with pytest.raises(TypeError):
        registry.save(_fitted_if(), {"metrics": object()})
    assert registry.latest("if") is None


def test_registry_as_the_domain_port(tmp_path):
    registry = FileModelRegistry(tmp_path, clock=_Clock()).for_kind("isolation_forest")
    assert registry.latest() is None
    start = datetime(2026, 11, 20, tzinfo=UTC)
    info = ModelInfo(kind="isolation_forest", trained_from=start, trained_to=start + timedelta(days=7))
    forest = _fitted_if()
    saved = registry.save(forest, info.model_copy(update={"metrics": {"roc_auc": 0.99}}))
    newer = registry.save(forest, info)
    assert saved.version.startswith("isolation_forest-20261127T101500-")
    assert saved.info.trained_from == start and saved.info.metrics == {"roc_auc": 0.99}
    assert saved.info.params["n_estimators"] == 50  # recorded from the detector
    assert saved.info.features == info.features and saved.created_at.tzinfo is not None
    assert registry.latest() == newer
    assert registry.load(saved).score(OUTLIERS) == forest.score(OUTLIERS)
    with pytest.raises(ValueError):
        registry.save(forest, info.model_copy(update={"kind": "hst"}))
