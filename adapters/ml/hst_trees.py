"""Half-Space Trees as arrays: River's own trees, flattened breadth-first, and the score of each
leaf's path for a window's reference masses (see `adapters.ml.batched_half_space_trees`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

PADDING = 0.15  # River's HalfSpaceTrees passes this to make_padded_tree
SIZE_LIMIT = 0.1  # River's `size_limit`: scoring stops below this share of a window's events


def river_trees(keys: Sequence[Any], n_trees: int, height: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """River's trees for `keys`, flattened breadth-first: split column and threshold of each inner node.

    The same calls as `HalfSpaceTrees.learn_one`: one `random.Random(seed)` for all the trees, limits
    over the *sorted* keys (the draws pick among them in that order), then each key's column.
    """
    # River (and the scipy it pulls in) costs a second to import: only a new model's trees need it.
    from river.tree.padded import PaddedBranch, PaddedLeaf, make_padded_tree

    rng = random.Random(seed)
    column = {key: i for i, key in enumerate(keys)}
    split_feature = np.empty((n_trees, (1 << height) - 1), dtype=np.int64)
    split_threshold = np.empty(split_feature.shape)
    for t in range(n_trees):
        limits = {key: (0.0, 1.0) for key in sorted(keys)}
        level = [make_padded_tree(limits=limits, height=height, padding=PADDING, rng=rng, r_mass=0, l_mass=0)]
        for d in range(height):
            if not all(isinstance(node, PaddedBranch) for node in level):
                raise RuntimeError(f"River's padded tree has a leaf at depth {d} < {height}: not complete")
            nodes = slice((1 << d) - 1, (2 << d) - 1)
            split_feature[t, nodes] = [column[node.feature] for node in level]
            split_threshold[t, nodes] = [node.threshold for node in level]
            level = [child for node in level for child in node.children]
        if not all(isinstance(node, PaddedLeaf) for node in level):
            raise RuntimeError(f"River's padded tree is deeper than {height}")
    return split_feature, split_threshold


def leaf_scores(reference_mass: np.ndarray, n_trees: int, height: int, window_size: int) -> np.ndarray:
    """River's `_walk_score` of each leaf's path, an exact integer, for the given reference masses.

    Down the path, add `mass * 2**depth` of each node and stop after the first one whose mass is
    below `0.1 * window_size`; the leaf is added if the walk gets there.
    """
    masses = [reference_mass.reshape(n_trees, 1 << height)]  # masses[d]: (n_trees, 2**d), from the leaves up
    for _ in range(height):
        below = masses[-1]
        masses.append(below[:, 0::2] + below[:, 1::2])  # a node's mass is its children's
    score = np.zeros((n_trees, 1), dtype=np.int64)  # of the path down to each node of the level
    walking = np.ones((n_trees, 1), dtype=bool)
    for d, mass in enumerate(reversed(masses)):
        if d:  # each node starts from its parent's
            score, walking = np.repeat(score, 2, axis=1), np.repeat(walking, 2, axis=1)
        score += np.where(walking, mass << d, 0)
        walking &= mass >= SIZE_LIMIT * window_size
    return score.ravel()
