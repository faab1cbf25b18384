"""Scoring contracts: detector ports, model metadata, combining scores into verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from math import inf, nan

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.features import FEATURE_NAMES, INDEX, Features
from domain.scoring import (
    NO_SINGLE_REASON,
    AnomalyVerdict,
    Detector,
    ModelInfo,
    ModelVersion,
    OnlineDetector,
    combine,
    flagged,
    verdicts,
)
from tests.factories import T0


def vector(**values: float) -> Features:
    quiet = dict.fromkeys(FEATURE_NAMES, 0.0) | {
        "events_last_1m": 1.0,
        "events_last_1h": 1.0,
        "countries_last_10m": 1.0,
    }
    return tuple((quiet | values)[name] for name in FEATURE_NAMES)


# --- ports ------------------------------------------------------------------------------------


class Fixed:
    name = "fixed"

    def score(self, batch: Sequence[Features]) -> list[float]:
        return [0.5] * len(batch)


class Learning(Fixed):
    name = "learning"

    def __init__(self) -> None:
        self.seen = 0

    def learn(self, batch: Sequence[Features]) -> None:
        self.seen += len(batch)


def test_detectors_are_recognised_by_shape_and_only_learners_are_online():
    assert isinstance(Fixed(), Detector)
    assert not isinstance(Fixed(), OnlineDetector)
    assert isinstance(Learning(), OnlineDetector)
    assert not isinstance(object(), Detector)


def info(**overrides) -> ModelInfo:
    fields = {"kind": "isolation_forest", "trained_from": T0, "trained_to": T0 + timedelta(days=7)} | overrides
    return ModelInfo(**fields)


def test_model_info_records_the_feature_order_and_checks_its_training_window():
    assert info().features == FEATURE_NAMES
    assert info().params == {} and info().metrics == {}
    assert info(trained_to=T0).trained_from == T0  # an instant is a window
    with pytest.raises(ValidationError, match="trained_from is after trained_to"):
        info(trained_from=T0 + timedelta(seconds=1), trained_to=T0)
    with pytest.raises(ValidationError):
        info(trained_from=datetime(2026, 1, 1))  # naive: ambiguous
    with pytest.raises(ValidationError):
        info(kind="")


def test_model_versions_are_frozen_and_round_trip_through_json():
    version = ModelVersion(
        version="2026-11-27T10-00-00Z-1",
        created_at=T0,
        info=info(params={"n_estimators": 100, "contamination": 0.01}, metrics={"events": 1_000_000}),
    )
    assert ModelVersion.model_validate_json(version.model_dump_json()) == version
    with pytest.raises(ValidationError):
        version.version = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ModelVersion(version="", created_at=T0, info=info())


# --- combine ---------------------------------------------------------------------------------


def test_combine_is_the_weighted_mean_per_event():
    assert combine([[0.2, 1.0], [0.6, 0.0]], [1, 3]) == pytest.approx([0.5, 0.25])
    assert combine([[0.3, 0.9]], [2.0]) == pytest.approx([0.3, 0.9])  # one detector: its own scores


def test_combine_max_takes_the_largest_score_scaled_by_relative_weight():
    assert combine([[0.2, 0.9], [0.8, 0.1]], [1, 0.5], mode="max") == pytest.approx([0.4, 0.9])
    assert combine([[0.2, 0.9], [0.8, 0.1]], [2, 2], mode="max") == pytest.approx([0.8, 0.9])


def test_combine_clips_each_score_before_weighing_it():
    assert combine([[1.7, -0.3, nan, inf], [0.5, 0.5, 0.5, 0.5]], [1, 1]) == pytest.approx([0.75, 0.25, 0.25, 0.75])
    assert combine([[1.7, -0.3, nan]], [1], mode="max") == [1.0, 0.0, 0.0]


def test_a_zero_weight_silences_a_detector():
    assert combine([[1.0], [0.2]], [0, 1]) == pytest.approx([0.2])
    assert combine([[1.0], [0.2]], [0, 1], mode="max") == pytest.approx([0.2])


def test_huge_weights_do_not_overflow():
    assert combine([[1.0], [0.0]], [1e308, 1e308]) == pytest.approx([0.5])


def test_an_empty_batch_combines_to_nothing():
    assert combine([[], []], [1, 1]) == []


@pytest.mark.parametrize(
    ("scores", "weights", "mode", "message"),
    [
        ([[0.1]], [1, 1], "mean", "one weight per detector"),
        ([], [], "mean", "one weight per detector"),
        ([[0.1], [0.2]], [0, 0], "mean", "not all 0"),
        ([[0.1], [0.2]], [1, -1], "mean", "not all 0"),
        ([[0.1], [0.2]], [1, nan], "mean", "not all 0"),
        ([[0.1], [0.2]], [1, inf], "mean", "not all 0"),
        ([[0.1], [0.2, 0.3]], [1, 1], "mean", "differ in length"),
        ([[0.1]], [1], "median", "unknown mode"),
    ],
)
def test_combine_rejects_inconsistent_input(scores, weights, mode, message):
    with pytest.raises(ValueError, match=message):
        combine(scores, weights, mode=mode)


unit_or_wild = st.one_of(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True))


@given(
    st.integers(1, 4).flatmap(
        lambda detectors: st.tuples(
            st.lists(st.lists(unit_or_wild, min_size=3, max_size=3), min_size=detectors, max_size=detectors),
            st.lists(st.floats(0, 1e300), min_size=detectors, max_size=detectors).filter(lambda w: max(w) > 0),
        )
    ),
    st.sampled_from(["mean", "max"]),
)
def test_combined_scores_are_always_in_unit_range_and_deterministic(scores_weights, mode):
    scores, weights = scores_weights
    combined = combine(scores, weights, mode=mode)
    assert len(combined) == 3
    assert all(0.0 <= s <= 1.0 for s in combined)
    assert combine(scores, weights, mode=mode) == combined


@given(st.lists(st.lists(st.floats(0, 1), min_size=2, max_size=2), min_size=1, max_size=4))
def test_with_equal_weights_mean_is_at_most_max_and_between_the_extremes(scores):
    weights = [1.0] * len(scores)
    mean, top = combine(scores, weights), combine(scores, weights, mode="max")
    for i in range(2):
        column = [s[i] for s in scores]
        assert min(column) - 1e-12 <= mean[i] <= top[i] + 1e-12
        assert top[i] == max(column)


# --- verdicts --------------------------------------------------------------------------------


def test_an_event_at_or_above_the_threshold_is_an_anomaly_with_reasons():
    quiet, spender = vector(), vector(amount_to_median=38, is_purchase=1)
    out = verdicts([0.69, 0.7, 0.95], [spender, spender, quiet], threshold=0.7)
    assert out == [
        AnomalyVerdict(0.69, False, []),  # below: no reasons even though a rule would fire
        AnomalyVerdict(0.7, True, ["purchase 38x this user's median"]),
        AnomalyVerdict(0.95, True, [NO_SINGLE_REASON]),  # the model saw what no rule explains
    ]


def test_verdict_reasons_are_limited():
    busy = vector(amount_to_median=38, countries_last_10m=7, clicks_last_10s=45, purchases_last_1m=12)
    assert len(verdicts([1.0], [busy], 0.5)[0].reasons) == 3
    assert verdicts([1.0], [busy], 0.5, limit=1)[0].reasons == ["purchase 38x this user's median"]


def test_verdicts_reject_a_threshold_outside_unit_range_and_misaligned_input():
    with pytest.raises(ValueError, match="threshold"):
        verdicts([0.5], [vector()], 1.5)
    with pytest.raises(ValueError, match="threshold"):
        verdicts([0.5], [vector()], -0.1)
    with pytest.raises(ValueError, match="2 scores for 1"):
        verdicts([0.5, 0.6], [vector()], 0.5)


def test_verdicts_are_frozen():
    verdict = verdicts([0.9], [vector()], 0.5)[0]
    with pytest.raises(AttributeError):
        verdict.score = 0.1  # type: ignore[misc]


def test_the_vector_helper_matches_the_feature_index():
    assert vector(clicks_last_10s=45)[INDEX["clicks_last_10s"]] == 45


def test_flagged_gives_only_the_anomalies_with_their_reasons():
    quiet = tuple(0.0 for _ in FEATURE_NAMES)
    found = flagged([0.1, 0.9, 0.71, 0.7], [quiet] * 4, 0.71)
    assert [i for i, _ in found] == [1, 2]
    assert all(why == [NO_SINGLE_REASON] for _, why in found)
    assert flagged([], [], 0.5) == []
    with pytest.raises(ValueError):
        flagged([0.5], [], 0.5)
