"""The labelled-stream benchmark and `analytics evaluate`, on a short stream (a second or two each).

The quality floors (50,000 events) are held by tests/integration/test_anomaly_quality.py (slow).
Streams this short are fragile: the generator spends its anomaly budget in a few episodes, and the
forest's training window may never show a value (a new country) that only anomalies produce.
Seed 2 at 8,000 events scores all five kinds after the training window.
"""

from __future__ import annotations

import json
import math

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.isolation_forest import SklearnIsolationForest
from adapters.ml.stream_evaluation import labelled_stream_benchmark
from application.traffic_anomalies import ANOMALY_KINDS
from domain.detection import (
    COMBINE_MODE,
    DEFAULT_THRESHOLD,
    DEFAULT_WEIGHTS,
    GAP_CAP_S,
    PREPARED_NAMES,
    prepare,
    prepare_by_table,
)
from domain.features import FEATURE_NAMES, INDEX
from domain.scoring import combine
from entrypoints.cli import ml_commands

COUNT, SEED = 8_000, 2


@pytest.fixture(scope="module")
def result():
    return labelled_stream_benchmark(COUNT, seed=SEED)


def test_the_report_has_figures_per_detector_combined_and_kind(result):
    assert result["events"] == COUNT and result["train_events"] == 2_400
    assert result["scored_events"] == COUNT - 2_400 and 0 < result["scored_anomalies"] < result["scored_events"]
    assert result["features"] == list(PREPARED_NAMES)
    for name in ("isolation_forest", "half_space_trees", "combined"):
        assert 0.5 < result[name]["roc_auc"] <= 1.0, result
        assert 0.0 < result[name]["pr_auc"] <= 1.0, result
    combined = result["combined"]
    assert combined["weights"] == DEFAULT_WEIGHTS and combined["mode"] == COMBINE_MODE
    assert combined["threshold"] == DEFAULT_THRESHOLD and 0 <= combined["precision"] <= 1
    assert list(result["kinds"]) == list(ANOMALY_KINDS)  # the order of the generator's kinds
    assert sum(k["events"] for k in result["kinds"].values()) == result["scored_anomalies"]
    assert all(0 <= k["recall"] <= 1 and 0 < k["roc_auc"] <= 1 for k in result["kinds"].values())
    assert result["isolation_forest"]["params"]["max_samples"] == 1024  # the training window holds 2,400
    assert result["seconds"]["total"] > 0


def test_the_combined_score_separates_anomalies_on_a_short_stream(result):
    assert result["combined"]["roc_auc"] > 0.9, result


def test_the_same_arguments_give_the_same_figures(result):
    again = labelled_stream_benchmark(COUNT, seed=SEED)
    assert again["kinds"] == result["kinds"]
    for name in ("isolation_forest", "half_space_trees", "combined"):
        assert (again[name]["roc_auc"], again[name]["pr_auc"]) == (result[name]["roc_auc"], result[name]["pr_auc"])


def test_a_stream_without_anomalies_to_measure_is_refused():
    with pytest.raises(ValueError, match="both normal and anomalous"):
        labelled_stream_benchmark(2_000, seed=1, anomaly_rate=0.0)
    with pytest.raises(ValueError, match="train_fraction"):
        labelled_stream_benchmark(2_000, train_fraction=1.0)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=len(FEATURE_NAMES), max_size=len(FEATURE_NAMES)))
def test_prepare_spelled_out_agrees_with_its_table(values):
    assert prepare(tuple(values)) == prepare_by_table(tuple(values))


def test_prepare_keeps_the_named_features_and_compresses_counts_and_gaps():
    features = [0.0] * len(FEATURE_NAMES)
    features[INDEX["clicks_last_10s"]] = 45.0
    features[INDEX["seconds_since_previous"]] = 86_400.0  # a first event
    features[INDEX["seconds_since_country_change"]] = 30.0
    features[INDEX["amount_log"]] = 4.2
    features[INDEX["new_country"]] = 1.0
    prepared = dict(zip(PREPARED_NAMES, prepare(tuple(features)), strict=True))
    assert set(PREPARED_NAMES) <= set(FEATURE_NAMES)
    assert prepared["clicks_last_10s"] == pytest.approx(math.log1p(45))
    assert prepared["seconds_since_previous"] == pytest.approx(math.log1p(GAP_CAP_S))
    assert prepared["seconds_since_country_change"] == pytest.approx(math.log1p(30))
    assert prepared["amount_log"] == 4.2 and prepared["new_country"] == 1.0 and prepared["events_last_1m"] == 0.0


def test_the_weights_fit_the_detector_names_and_the_threshold_is_a_combined_score():
    assert set(DEFAULT_WEIGHTS) == {SklearnIsolationForest().name, BatchedHalfSpaceTrees().name}
    assert 0 < DEFAULT_THRESHOLD < 1
    assert combine([[1.0], [1.0]], list(DEFAULT_WEIGHTS.values()), mode=COMBINE_MODE) == [1.0]


def test_the_evaluate_command_prints_tables_and_a_json_line(tmp_path):
    app = typer.Typer()
    app.callback()(lambda: None)
    ml_commands.register(app)
    path = tmp_path / "report.json"
    args = ["evaluate", "--count", str(COUNT), "--seed", str(SEED), "--no-shuttle", "--json", str(path)]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    line = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert "shuttle" not in line and line["stream"]["combined"]["roc_auc"] > 0.9
    assert json.loads(path.read_text()) == line
    assert "half_space_trees" in outcome.stderr and "click_flood" in outcome.stderr


def test_the_evaluate_command_reports_a_stream_it_cannot_measure_as_a_bad_option():
    app = typer.Typer()
    app.callback()(lambda: None)
    ml_commands.register(app)
    outcome = CliRunner().invoke(app, ["evaluate", "--count", "1000", "--anomaly-rate", "0.001", "--no-shuttle"])
    assert outcome.exit_code == 2 and "both normal and anomalous" in outcome.output
