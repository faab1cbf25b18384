"""`prepare_matrix`, the live scorer's batch preparation, against `domain.detection.prepare`."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.ml.isolation_forest import SklearnIsolationForest
from adapters.ml.online import HalfSpaceTreesFactory
from adapters.ml.prepared import prepare_matrix
from application.traffic import generate_events
from domain.detection import PREPARED_NAMES, prepare, prepare_batch
from domain.features import FEATURE_NAMES, INDEX, extract

LOGGED = ("events_last_1m", "purchases_last_1m", "clicks_last_10s", "seconds_since_previous",
          "seconds_since_country_change", "session_events_per_minute")  # fmt: skip


def _traffic_features(count: int) -> list[tuple[float, ...]]:
    events = list(generate_events(count, seed=7, start=datetime(2026, 12, 1, tzinfo=UTC), rate=50.0))
    return extract((event, event.timestamp) for event in events)[0]


TRAFFIC = _traffic_features(3_000)


def _agree(matrix: np.ndarray, rows: list[tuple[float, ...]]) -> None:
    """Equal, but for log1p's last bit (numpy's and the math module's may round apart)."""
    expected = np.array(rows, dtype=np.float64).reshape(len(rows), len(PREPARED_NAMES))
    assert matrix.shape == expected.shape and matrix.dtype == np.float64
    np.testing.assert_array_max_ulp(matrix, expected, maxulp=1)
    plain = [j for j, name in enumerate(PREPARED_NAMES) if name not in LOGGED]
    assert (matrix[:, plain] == expected[:, plain]).all()  # copied, not computed: bit for bit


def test_a_batch_of_real_traffic_is_prepared_as_each_event_would_be():
    _agree(prepare_matrix(TRAFFIC), prepare_batch(TRAFFIC))


@given(st.lists(st.lists(st.floats(min_value=0, max_value=1e7), min_size=20, max_size=20), max_size=40))
def test_any_vectors_are_prepared_as_prepare_does(vectors):
    rows = [tuple(v) for v in vectors]
    _agree(prepare_matrix(rows), [prepare(r) for r in rows])


def test_gaps_are_capped_before_their_log_and_first_events_read_as_an_hour():
    first = [0.0] * len(FEATURE_NAMES)
    first[INDEX["seconds_since_previous"]] = first[INDEX["seconds_since_country_change"]] = 86_400.0
    prepared = dict(zip(PREPARED_NAMES, prepare_matrix([tuple(first)])[0], strict=True))
    assert (
        prepared["seconds_since_previous"] == prepared["seconds_since_country_change"] == pytest.approx(np.log1p(3600))
    )


def test_an_empty_batch_is_an_empty_matrix_of_the_prepared_width():
    assert prepare_matrix([]).shape == (0, len(PREPARED_NAMES))


def test_the_callers_array_is_left_as_it_was():
    given_rows = np.array(TRAFFIC[:50])
    before = given_rows.copy()
    prepare_matrix(given_rows)
    assert (given_rows == before).all()


def test_vectors_of_another_width_are_refused():
    with pytest.raises(ValueError, match="feature vectors of 20 values"):
        prepare_matrix([(1.0, 2.0, 3.0)])


def test_both_detectors_score_the_matrix_as_they_score_the_prepared_tuples():
    train, live = TRAFFIC[:2_000], TRAFFIC[2_000:]
    forest = SklearnIsolationForest().fit(prepare_batch(train), n_estimators=64, random_state=0)
    assert forest.score(prepare_matrix(live)) == pytest.approx(forest.score(prepare_batch(live)), abs=1e-12)
    by_tuples, by_matrix = HalfSpaceTreesFactory().new(), HalfSpaceTreesFactory().new()
    for start in range(0, len(TRAFFIC), 700):  # past the first window, so the later scores are not 0
        chunk = TRAFFIC[start : start + 700]
        expected = by_tuples.score_then_learn(prepare_batch(chunk))
        assert by_matrix.score_then_learn(prepare_matrix(chunk)) == pytest.approx(expected, abs=1e-12)
    assert by_matrix.learned == len(TRAFFIC) and max(expected) > 0
