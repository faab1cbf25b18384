"""`BatchedHalfSpaceTrees` is River's model: the same scores as `RiverHalfSpaceTrees` on the same stream.

River's pipeline is the reference, run once per stream (cached): the batched detector must match
it within 1e-9 however the stream is cut into batches, with `score` and `learn` called apart too,
and across a save and restore. The streams have columns of different ranges, a constant one, and
ranges that keep widening, so rows keep moving the scaler's bounds after the first window.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
from functools import cache
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.half_space_trees import RiverHalfSpaceTrees
from domain.scoring import OnlineDetector

SMALL = {"n_trees": 5, "height": 4, "window_size": 50}
PRODUCTION = {"n_trees": 50, "height": 8, "window_size": 1000}
NAMES = ("velocity", "amount", "constant", "count", "tiny", "flag")  # not sorted: River sorts them
SEEDS = (0, 1, 2)
ROWS = 3000


@cache
def _stream(seed: int, n: int = ROWS) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(0.0, 1.0, n) * np.linspace(1.0, 4.0, n),  # widening: new extremes all along
            rng.exponential(100.0, n),  # a heavy tail: values far beyond the earlier range
            np.full(n, 3.0),  # max == min: River scales it to 0
            rng.integers(0, 4, n),
            rng.uniform(-1e-3, 1e-3, n),
            rng.integers(0, 2, n),
        ]
    ).astype(float)
    x[rng.random(n) < 0.01, 0] *= 50.0
    x.flags.writeable = False  # cached: shared by the tests
    return x


def _rows(x: np.ndarray) -> list[tuple[float, ...]]:
    return [tuple(row) for row in x.tolist()]


@cache
def _river_scores(seed: int, params: tuple[tuple[str, int], ...], named: bool) -> np.ndarray:
    """River's score-then-learn scores of the whole stream: the reference."""
    river = RiverHalfSpaceTrees(**dict(params), seed=seed, feature_names=NAMES if named else None)
    return np.array(river.score_then_learn(_rows(_stream(seed))))


@cache
def _fresh(seed: int, params: tuple[tuple[str, int], ...], named: bool) -> BatchedHalfSpaceTrees:
    return BatchedHalfSpaceTrees(**dict(params), seed=seed, feature_names=NAMES if named else None)


def _batched(seed: int, params: dict[str, int], named: bool = True) -> BatchedHalfSpaceTrees:
    return copy.deepcopy(_fresh(seed, tuple(params.items()), named))  # growing 50 trees takes a while


def _reference(seed: int, params: dict[str, int], named: bool = True) -> np.ndarray:
    return _river_scores(seed, tuple(params.items()), named)


def _batches(x: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    bounds = [0, *sorted(set(cuts)), len(x)]
    return [x[start:stop] for start, stop in pairwise(bounds)]


def _assert_close(got: list[float] | np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0.0, atol=1e-9)


# --- the same scores as River ------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("named", [True, False], ids=["feature names", "column indices"])
def test_the_scores_of_a_whole_stream_in_one_batch_are_rivers(seed, named):
    expected = _reference(seed, SMALL, named)
    assert (expected > 0).sum() > ROWS - 2 * SMALL["window_size"]  # the reference scores something
    _assert_close(_batched(seed, SMALL, named).score_then_learn(_rows(_stream(seed))), expected)


def test_the_production_parameters_give_rivers_scores():
    detector = _batched(0, PRODUCTION)
    _assert_close(detector.score_then_learn_array(_stream(0)), _reference(0, PRODUCTION))
    assert detector.learned == ROWS


@settings(max_examples=30)
@given(seed=st.sampled_from(SEEDS), cuts=st.lists(st.integers(0, ROWS), max_size=40))
def test_any_cut_of_the_stream_into_batches_gives_rivers_scores(seed, cuts):
    detector = _batched(seed, SMALL)
    scores = [s for batch in _batches(_stream(seed), cuts) for s in detector.score_then_learn(batch)]
    _assert_close(scores, _reference(seed, SMALL))


@settings(max_examples=4)
@given(cuts=st.lists(st.integers(0, ROWS), min_size=1, max_size=8))
def test_any_cut_gives_rivers_scores_with_the_production_parameters(cuts):
    detector = _batched(0, PRODUCTION)
    batches = _batches(_stream(0), cuts)
    _assert_close(np.concatenate([detector.score_then_learn_array(b) for b in batches]), _reference(0, PRODUCTION))


@settings(max_examples=10)
@given(seed=st.sampled_from(SEEDS), cuts=st.lists(st.integers(0, 600), max_size=12))
def test_score_and_learn_apart_match_rivers(seed, cuts):
    river = RiverHalfSpaceTrees(**SMALL, seed=seed, feature_names=NAMES)
    detector = _batched(seed, SMALL)
    probe = _rows(_stream(seed + 10, 50))
    for batch in _batches(_stream(seed)[:600], cuts):
        rows = _rows(batch)
        _assert_close(detector.score(rows), np.array(river.score(rows)))  # the whole batch on one model
        detector.learn(rows)
        river.learn(rows)
        _assert_close(detector.score(probe), np.array(river.score(probe)))
    assert detector.learned == river.learned == 600


@pytest.mark.parametrize("cut", [None, 50, 51])
def test_a_row_that_moves_the_scalers_bounds_is_scored_with_the_bounds_before_it(cut):
    x = _stream(4, 200).copy()
    window = SMALL["window_size"]
    x[window : window + 2] = x[:window].max(axis=0) * 3.0 + 1.0  # the first rows scored: beyond every max
    river = RiverHalfSpaceTrees(**SMALL, seed=4, feature_names=NAMES)
    expected = np.array(river.score_then_learn(_rows(x)))
    detector = _batched(4, SMALL)
    _assert_close(np.concatenate([detector.score_then_learn_array(b) for b in _batches(x, [cut or 0])]), expected)


def test_scoring_does_not_change_the_model():
    detector = _batched(0, SMALL)
    x = _stream(0)
    detector.learn(x[:1000])
    first = detector.score(x[1000:1200])
    assert detector.score(x[1000:1200]) == first
    _assert_close(detector.score_then_learn(x[1000:]), _reference(0, SMALL)[1000:])


def test_nan_and_infinities_go_where_river_sends_them():
    x = _stream(3, 800).copy()
    rng = np.random.default_rng(3)
    for value in (np.nan, np.inf, -np.inf):
        x[rng.random(x.shape) < 0.003] = value
    x[0, 4] = np.nan  # before any bound: River's min and max stay at +inf and -inf
    river = RiverHalfSpaceTrees(**SMALL, seed=3, feature_names=NAMES)
    expected = np.array(river.score_then_learn(_rows(x)))
    assert np.isfinite(expected).all() and (expected > 0).any()
    _assert_close(_batched(3, SMALL).score_then_learn(_rows(x)), expected)


# --- persistence -------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [0, 1, 49, 50, 1234])  # nothing, first window, a window's end, mid-window
def test_a_restored_detector_continues_exactly_as_the_saved_one(stop):
    x = _stream(1)
    uninterrupted = _batched(1, SMALL).score_then_learn_array(x)
    saved = _batched(1, SMALL)
    before = saved.score_then_learn_array(x[:stop])
    restored = BatchedHalfSpaceTrees.from_bytes(saved.to_bytes())
    assert (restored.learned, restored.params(), restored.name) == (stop, saved.params(), saved.name)
    np.testing.assert_array_equal(np.concatenate([before, restored.score_then_learn_array(x[stop:])]), uninterrupted)


def test_a_detector_that_saw_nothing_round_trips():
    unnamed = BatchedHalfSpaceTrees(**SMALL, seed=None, name="other")
    restored = BatchedHalfSpaceTrees.from_bytes(unnamed.to_bytes())
    assert (restored.params(), restored.name, restored.learned) == (unnamed.params(), "other", 0)
    restored.learn(_stream(0)[:10, :2])  # it takes any width, as the saved one would have
    assert restored.score([(1.0, 2.0)]) == [0.0]


def _archive(detector: BatchedHalfSpaceTrees) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(detector.to_bytes())) as archive:
        return {key: archive[key] for key in archive.files}


def _saved(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _with_header(arrays: dict[str, np.ndarray], **changes) -> dict[str, np.ndarray]:
    header = json.loads(arrays["header"].tobytes()) | changes
    return arrays | {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}


def _garbage() -> dict[str, bytes]:
    trained = _batched(0, SMALL)
    trained.learn(_stream(0)[:120])
    good = trained.to_bytes()
    arrays = _archive(trained)
    window_mass = arrays["window_mass"].copy()
    window_mass[0, 0] += 1
    return {
        "empty": b"",
        "text": b"not a model",
        "random": np.random.default_rng(0).bytes(2000),
        "truncated": good[: len(good) // 2],
        "a pickle": pickle.dumps(trained),
        "an object array": _saved(arrays | {"scaler_min": np.array([{}], dtype=object)}),
        "a plain .npy": _npy(arrays["scaler_min"]),
        "no header": _saved({k: v for k, v in arrays.items() if k != "header"}),
        "a newer version": _saved(_with_header(arrays, version=2)),
        "a bad parameter": _saved(_with_header(arrays, params={**trained.params(), "height": "4"})),
        "a huge tree": _saved(_with_header(arrays, params={**trained.params(), "height": 80})),
        "a missing array": _saved({k: v for k, v in arrays.items() if k != "reference_mass"}),
        "a wrong shape": _saved(arrays | {"split_threshold": arrays["split_threshold"][:, :3]}),
        "a wrong dtype": _saved(arrays | {"split_feature": arrays["split_threshold"]}),
        "a split off the row": _saved(arrays | {"split_feature": arrays["split_feature"] + len(NAMES)}),
        "masses that do not add up": _saved(arrays | {"window_mass": window_mass}),
        "a wrong event count": _saved(_with_header(arrays, learned=121)),
    }


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


GARBAGE = _garbage()


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_anything_but_a_saved_detector_is_refused(data):
    with pytest.raises(ValueError):
        BatchedHalfSpaceTrees.from_bytes(data)


# --- the port and its edges --------------------------------------------------------------------


def test_it_is_an_online_detector_with_rivers_parameters():
    detector = BatchedHalfSpaceTrees(**SMALL, feature_names=NAMES)
    assert isinstance(detector, OnlineDetector)
    assert detector.params() == RiverHalfSpaceTrees(**SMALL, feature_names=NAMES).params()
    assert detector.name == "hst"


@pytest.mark.parametrize("method", ["score", "learn", "score_then_learn", "score_then_learn_array"])
def test_rows_of_the_wrong_width_are_refused_and_change_nothing(method):
    detector = _batched(0, SMALL)
    detector.learn(_stream(0)[:100])
    probe = detector.score(_stream(0)[100:150])
    for batch in ([(1.0, 2.0)], _stream(0)[:3, :5], [(0.0,) * 6, (0.0,) * 5], np.zeros(6)):
        with pytest.raises(ValueError):
            getattr(detector, method)(batch)
    assert detector.learned == 100
    assert detector.score(_stream(0)[100:150]) == probe


def test_the_first_batch_fixes_the_width_without_feature_names():
    detector = BatchedHalfSpaceTrees(**SMALL)
    assert detector.score([(1.0, 2.0, 3.0)]) == [0.0]
    with pytest.raises(ValueError):
        detector.learn([(1.0, 2.0)])


def test_an_empty_batch_gives_nothing_and_changes_nothing():
    detector = BatchedHalfSpaceTrees(**SMALL)
    assert detector.score([]) == [] and detector.score_then_learn([]) == []
    assert detector.score_then_learn_array(np.empty((0, 6))).shape == (0,)
    detector.learn([])
    assert detector.learned == 0
    detector.learn(_stream(0)[:100])
    probe = detector.score(_stream(0)[100:150])
    assert detector.score_then_learn([]) == []
    detector.learn(np.empty((0, 6)))
    assert detector.learned == 100 and detector.score(_stream(0)[100:150]) == probe


def test_rewind_forgets_exactly_what_was_learned_since_the_checkpoint():
    rng = np.random.default_rng(3)
    stream = rng.random((260, 3))
    straight = BatchedHalfSpaceTrees(n_trees=4, height=3, window_size=50, feature_names=("a", "b", "c"))
    expected = straight.score_then_learn(stream)

    trees = BatchedHalfSpaceTrees(n_trees=4, height=3, window_size=50, feature_names=("a", "b", "c"))
    head = trees.score_then_learn(stream[:120])
    mark = trees.checkpoint()
    trees.score_then_learn(rng.random((90, 3)) * 7)  # a batch that then fails: crosses a window end too
    trees.rewind(mark)
    assert trees.learned == 120
    assert head + trees.score_then_learn(stream[120:]) == expected


def test_rewind_before_anything_was_learned_starts_over():
    trees = BatchedHalfSpaceTrees(n_trees=4, height=3, window_size=10)
    mark = trees.checkpoint()
    trees.learn([(0.1, 0.2)] * 15)
    trees.rewind(mark)
    assert trees.learned == 0
    trees.learn([(0.1, 0.2, 0.3)] * 3)  # the width is free again
