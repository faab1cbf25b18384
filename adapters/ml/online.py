"""The online detector the dataflow runs: Half-Space Trees (batched) over the prepared features.

`HalfSpaceTreesFactory` is the application's `OnlineDetectorFactory`: a fresh model per partition,
or the one saved with an earlier batch. A saved state of other hyper-parameters or features (the
configuration changed since) is refused with ValueError, and the partition starts afresh: mixing
trees grown for other inputs would score nonsense.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.ml.batched_half_space_trees import BatchedHalfSpaceTrees
from adapters.ml.tuning import HST_PARAMS
from domain.detection import PREPARED_NAMES


class HalfSpaceTreesFactory:
    def __init__(self, params: dict[str, Any] | None = None, feature_names: Sequence[str] = PREPARED_NAMES) -> None:
        self.params = {**HST_PARAMS, **(params or {})}
        self.feature_names = tuple(feature_names)

    def new(self) -> BatchedHalfSpaceTrees:
        return BatchedHalfSpaceTrees(**self.params, feature_names=self.feature_names)

    def restore(self, state: bytes) -> BatchedHalfSpaceTrees:
        detector = BatchedHalfSpaceTrees.from_bytes(state)
        expected = self.new().params()
        if detector.params() != expected:
            raise ValueError(f"saved online model has other parameters: {detector.params()} != {expected}")
        return detector
