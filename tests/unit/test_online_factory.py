"""The dataflow's online detector: fresh per partition, or restored only into the same configuration."""

from __future__ import annotations

import random

import pytest

from adapters.ml.online import HalfSpaceTreesFactory
from domain.detection import PREPARED_NAMES

SMALL = {"n_trees": 4, "height": 3, "window_size": 20}


def rows(n: int, seed: int = 1) -> list[tuple[float, ...]]:
    rng = random.Random(seed)
    return [tuple(rng.random() for _ in PREPARED_NAMES) for _ in range(n)]


def test_a_restored_detector_continues_exactly_where_the_saved_one_stopped():
    factory = HalfSpaceTreesFactory(SMALL)
    stream = rows(100)
    straight = factory.new()
    expected = straight.score_then_learn(stream)

    first = factory.new()
    head = first.score_then_learn(stream[:45])
    restored = factory.restore(first.to_bytes())
    assert restored.learned == 45 and restored.warm_at == SMALL["window_size"]
    assert head + restored.score_then_learn(stream[45:]) == expected


def test_a_state_saved_under_other_parameters_is_refused():
    saved = HalfSpaceTreesFactory(SMALL).new()
    saved.learn(rows(30))
    with pytest.raises(ValueError, match="other parameters"):
        HalfSpaceTreesFactory({**SMALL, "height": 4}).restore(saved.to_bytes())


def test_garbage_is_refused():
    with pytest.raises(ValueError):
        HalfSpaceTreesFactory(SMALL).restore(b"not a detector")
