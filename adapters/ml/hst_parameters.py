"""What both Half-Space Trees detectors share: their parameters, the checks on them, the count of
events learned and when scores start to mean something. River is not imported here, so the
batched detector does not pay its second of import time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HalfSpaceTreesParameters:
    """`n_trees` trees of `height` levels of splits, reference masses from windows of `window_size`
    events, drawn from `seed`; `feature_names` (distinct), when given, fix the rows' width."""

    def __init__(
        self,
        n_trees: int = 25,
        height: int = 10,
        window_size: int = 250,
        seed: int | None = 42,
        *,
        feature_names: Sequence[str] | None = None,
        name: str = "hst",
    ) -> None:
        if n_trees < 1 or height < 1 or window_size < 1:
            raise ValueError("n_trees, height and window_size must be positive")
        self.name = name
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.feature_names = distinct(feature_names)
        self.learned = 0
        self._set_up()

    def params(self) -> dict[str, Any]:
        """Hyper-parameters, for the model registry's sidecar."""
        return {
            "n_trees": self.n_trees,
            "height": self.height,
            "window_size": self.window_size,
            "seed": self.seed,
            "feature_names": list(self.feature_names) if self.feature_names is not None else None,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_trees={self.n_trees}, height={self.height}, "
            f"window_size={self.window_size}, seed={self.seed}, learned={self.learned})"
        )

    def _set_up(self) -> None:
        """The detector's own state for these parameters (a subclass's part of construction)."""

    @property
    def warm_at(self) -> int:
        """Events to learn before scores mean something: one window (before, there is no reference mass)."""
        return self.window_size


def distinct(names: Sequence[str] | None) -> tuple[str, ...] | None:
    """`names` as a tuple; ValueError if one repeats."""
    if names is None:
        return None
    if len(set(names)) != len(names):
        raise ValueError("feature_names must be distinct")
    return tuple(names)
