"""`SklearnIsolationForest`: scikit-learn's Isolation Forest behind the `Detector` port.

A batch model: `fit` on a training window, then `score` micro-batches (one vectorised numpy call
per batch); scoring never changes the model. Retraining means fitting a new instance and saving
it as a new version in the model registry.

Score mapping. The score is the original paper's anomaly score (Liu, Ting & Zhou, 2008):

    score(x) = 2 ** (-E[h(x)] / c(n))

where E[h(x)] is the mean path length isolating x over the trees and c(n) the mean path length
of an unsuccessful binary-search-tree lookup among the n = `max_samples` points each tree saw.
scikit-learn's `score_samples` returns exactly this score negated, so `score = -score_samples(X)`
with no fitted constants. It lies in (0, 1]: about 0.5 or below for ordinary points, near 1 for
points isolated after very few splits. The clip to [0, 1] only guards against rounding.
`threshold` gives the score above which scikit-learn's `predict` would call a point an outlier:
0.5 with `contamination="auto"`, else the (1 - contamination) quantile of the training scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from adapters.ml.forest_arrays import ForestArrays
from adapters.ml.tuning import IF_PARAMS
from application.anomaly_training import FittedDetector
from domain.detection import BATCH_DETECTOR
from domain.scoring import Features

if TYPE_CHECKING:  # scikit-learn costs 1.4 s to import: only commands that fit a forest pay it
    from sklearn.ensemble import IsolationForest


class SklearnIsolationForest:
    """A fitted-once detector; `score` is pure and safe to call from several threads."""

    def __init__(self, *, name: str = "if") -> None:
        self.name = name
        self._model: IsolationForest | None = None
        self._params: dict[str, Any] = {}
        self.n_features: int | None = None
        self.trained_on = 0
        self._arrays: ForestArrays | None = None  # built on first score, never saved

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_arrays": None}

    def fit(
        self,
        batch: Sequence[Features] | np.ndarray,
        *,
        n_estimators: int = 200,
        contamination: float | Literal["auto"] = "auto",
        random_state: int | None = None,
        max_samples: int | float | Literal["auto"] = "auto",
        n_jobs: int | None = None,
    ) -> Self:
        """Fit on `batch` (rows of equal width) and return `self`."""
        x = _matrix(batch)
        if len(x) == 0:
            raise ValueError("cannot fit on an empty batch")
        from sklearn.ensemble import IsolationForest

        model = IsolationForest(
            n_estimators=n_estimators,
            contamination=contamination,
            max_samples=max_samples,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        model.fit(x)
        self._model = model
        self._arrays = None
        self._params = {
            "n_estimators": n_estimators,
            "contamination": contamination,
            "max_samples": max_samples,
            "random_state": random_state,
        }
        self.n_features = x.shape[1]
        self.trained_on = len(x)
        return self

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def score(self, batch: Sequence[Features]) -> list[float]:
        """Scores in [0, 1], higher = more anomalous (the paper score; see the module docstring)."""
        return self.score_array(batch).tolist()

    def score_array(self, batch: Sequence[Features] | np.ndarray) -> np.ndarray:
        """`score` as a float64 array, for callers that stay in numpy."""
        model = self._require_model()
        x = _matrix(batch)
        if len(x) == 0:
            return np.empty(0, dtype=np.float64)
        if x.shape[1] != self.n_features:
            raise ValueError(f"expected rows of {self.n_features} features, got {x.shape[1]}")
        arrays = getattr(self, "_arrays", None)  # models saved before it existed lack the attribute
        if arrays is None:
            arrays = self._arrays = ForestArrays(model)
        return np.clip(-arrays.score_samples(x), 0.0, 1.0)

    @property
    def threshold(self) -> float:
        """The score above which scikit-learn's `predict` reports an outlier (0.5 with "auto")."""
        return float(-self._require_model().offset_)

    def params(self) -> dict[str, Any]:
        """Hyper-parameters of the last `fit`, for the model registry's sidecar."""
        return {**self._params, "n_features": self.n_features, "trained_on": self.trained_on}

    def __repr__(self) -> str:
        return f"SklearnIsolationForest(fitted={self.fitted}, {self._params})"

    def _require_model(self) -> IsolationForest:
        if self._model is None:
            raise RuntimeError("SklearnIsolationForest is not fitted: call fit() first")
        return self._model


def _matrix(batch: Sequence[Features] | np.ndarray) -> np.ndarray:
    if len(batch) == 0:
        return np.empty((0, 0), dtype=np.float64)
    x = np.asarray(batch, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a batch of feature rows (2-D), got shape {x.shape}")
    return x


def fit_isolation_forest(rows: Sequence[Features]) -> FittedDetector:
    """The `DetectorFactory` of `train anomaly`: Isolation Forest with `IF_PARAMS`, at most one tree sample
    per row."""
    params = {**IF_PARAMS, "max_samples": min(IF_PARAMS["max_samples"], len(rows))}
    forest = SklearnIsolationForest(name=BATCH_DETECTOR).fit(rows, **params)
    return FittedDetector(forest, forest.params())
