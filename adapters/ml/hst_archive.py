"""The saved form of a `BatchedHalfSpaceTrees`: an `.npz` archive of plain arrays and a JSON
header, written with `np.savez` and read with `allow_pickle=False`, so reading runs no code.
Reading checks every count, shape and range against the header before anything is trusted:
a damaged or foreign archive raises ValueError, never installs a half-valid model."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any, NamedTuple

import numpy as np

FORMAT = "batched_half_space_trees"
FORMAT_VERSION = 1


class SavedTrees(NamedTuple):
    """A saved detector's state, checked: arrays are (n_trees, nodes) or (width,)."""

    params: dict[str, Any]  # n_trees, height, window_size, seed, feature_names
    name: str
    width: int | None  # None: it saw no row, and there is no more state
    learned: int
    split_feature: np.ndarray | None = None
    split_threshold: np.ndarray | None = None
    scaler_min: np.ndarray | None = None
    scaler_max: np.ndarray | None = None
    window_mass: np.ndarray | None = None
    reference_mass: np.ndarray | None = None


def write(name: str, params: dict[str, Any], width: int | None, learned: int, arrays: dict[str, np.ndarray]) -> bytes:
    header = {"format": FORMAT, "version": FORMAT_VERSION, "name": name, "params": params, "width": width}
    header["learned"] = learned
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def read(data: bytes) -> SavedTrees:
    """The state `write` saved, checked; anything else raises ValueError."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
        header = json.loads(arrays.pop("header").tobytes())
        return _checked(header, arrays)
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"not a saved {FORMAT}: {error!r}") from error


def _checked(header: Any, arrays: dict[str, np.ndarray]) -> SavedTrees:
    params, name, width, learned = _read_header(header)
    names = params["feature_names"]
    if width is None:
        if learned or arrays or names is not None:
            raise ValueError("a detector that saw no rows has no more state")
        return SavedTrees(params, name, None, 0)
    if names is not None and len(names) != width:
        raise ValueError(f"{len(names)} feature names for rows of {width} features")
    trees, height, window_size = params["n_trees"], params["height"], params["window_size"]
    inner, leaves = (1 << height) - 1, 1 << height
    split_feature = _array(arrays, "split_feature", (trees, inner), np.integer)
    split_threshold = _array(arrays, "split_threshold", (trees, inner), np.floating)
    window_mass = _array(arrays, "window_mass", (trees, leaves), np.integer)
    reference_mass = _array(arrays, "reference_mass", (trees, leaves), np.integer)
    scaler_min = _array(arrays, "scaler_min", (width,), np.floating)
    scaler_max = _array(arrays, "scaler_max", (width,), np.floating)
    if split_feature.min() < 0 or split_feature.max() >= width or not np.isfinite(split_threshold).all():
        raise ValueError("splits out of range")
    # Every event learned adds one to one leaf of each tree, in its window.
    in_window = learned % window_size
    reference = window_size if learned >= window_size else 0
    if min(window_mass.min(), reference_mass.min()) < 0 or (window_mass.sum(axis=1) != in_window).any():
        raise ValueError(f"window masses do not add up to the {learned} events learned")
    if (reference_mass.sum(axis=1) != reference).any():
        raise ValueError(f"reference masses do not add up to the {learned} events learned")
    return SavedTrees(
        params, name, width, learned, split_feature, split_threshold, scaler_min, scaler_max, window_mass,
        reference_mass,
    )  # fmt: skip


def _read_header(header: Any) -> tuple[dict[str, Any], str, int | None, int]:
    """The parameters, name, row width and events learned of a saved detector, checked."""
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise ValueError(f"not a {FORMAT} archive of version {FORMAT_VERSION}")
    params, name, width, learned = header["params"], header["name"], header["width"], header["learned"]
    if not isinstance(params, dict) or set(params) != {"n_trees", "height", "window_size", "seed", "feature_names"}:
        raise ValueError(f"bad params {params!r}")
    counts = [params["n_trees"], params["height"], params["window_size"], learned]
    if not all(type(v) is int for v in counts) or not (width is None or type(width) is int):
        raise ValueError("counts must be integers")
    names = params["feature_names"]
    if names is not None and not (isinstance(names, list) and all(isinstance(k, str) for k in names)):
        raise ValueError(f"bad feature names {names!r}")
    if not (params["seed"] is None or type(params["seed"]) is int) or not isinstance(name, str):
        raise ValueError("bad seed or name")
    if learned < 0 or (width is not None and width < 1):
        raise ValueError(f"bad width {width} or event count {learned}")
    if params["n_trees"] > 0 and params["height"] > 0 and params["n_trees"] << params["height"] >= 1 << 63:
        raise ValueError("too many leaves for int64 leaf indices")  # and for any memory
    return dict(params), name, width, learned


def _array(arrays: dict[str, np.ndarray], key: str, shape: tuple[int, ...], kind: type[np.generic]) -> np.ndarray:
    array = arrays[key]
    if array.shape != shape or not np.issubdtype(array.dtype, kind):
        raise ValueError(f"{key}: expected {kind.__name__} of shape {shape}, got {array.dtype} {array.shape}")
    return array
