"""`FileModelRegistry`: versioned detectors as joblib files on disk, each with a JSON sidecar.

Layout::

    <root>/<kind>/<version>.joblib   the pickled detector (joblib)
    <root>/<kind>/<version>.json     its info: the caller's fields plus version, kind, detector
                                     class, created_at, sha256 and size of the .joblib file

`kind` is the detector's `name` ("if", "hst", ...) and versions read `<kind>-<UTC time>-<8 hex>`,
e.g. `if-20261127T101500-3f9a0c1e`.

Writes are atomic: each file is written to a hidden temporary file in the same directory,
fsynced, then renamed over its final name with `os.replace`. The model is written first and
the sidecar last, and a version exists only once its sidecar does, so a crash mid-save leaves
at most an orphan temporary or `.joblib` file that no reader lists. `load` checks the model
file against the sidecar's sha256 before unpickling it.

`FileModelRegistry` speaks plain strings and dicts (`save(detector, info) -> version`,
`load(version)`, `latest(kind)`, `info(version)`); `for_kind(kind)` gives the same store as the
domain's `ModelRegistry` port (`ModelInfo` in, `ModelVersion` out) for one kind of model.

Unpickling runs code: point a registry only at a directory this platform alone writes to.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import joblib

from domain.errors import AnalyticsError, NotFound
from domain.scoring import Detector, ModelInfo, ModelVersion

_KIND = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_VERSION = re.compile(r"(?P<kind>[a-z0-9][a-z0-9_-]{0,63})-(?P<stamp>\d{8}T\d{6})-(?P<nonce>[0-9a-f]{8})")
RESERVED_INFO_KEYS = frozenset({"version", "kind", "detector", "created_at", "sha256", "size_bytes"})


class CorruptModel(AnalyticsError):
    """A stored model file does not match the checksum recorded when it was saved."""


class FileModelRegistry:
    """Save, list and load detector versions under one directory; safe for concurrent writers."""

    def __init__(self, root: str | os.PathLike[str], *, clock: Callable[[], datetime] | None = None) -> None:
        self.root = Path(root)
        self._clock = clock or (lambda: datetime.now(UTC))

    def save(self, detector: Any, info: dict[str, Any], *, kind: str | None = None) -> str:
        """Store `detector` as a new version of `kind` (default: `detector.name`) and return the version.

        `info` (e.g. params, training window, metrics) must be JSON-serialisable; datetimes and
        dates become ISO strings, numpy scalars plain numbers. When `info` has no "params" and the
        detector has a `params()` method, its result is recorded.
        """
        kind = kind if kind is not None else getattr(detector, "name", None)
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise ValueError(f"invalid model kind {kind!r}: lower-case letters, digits, '_' and '-'")
        clash = RESERVED_INFO_KEYS & info.keys()
        if clash:
            raise ValueError(f"info keys reserved by the registry: {sorted(clash)}")

        created = self._clock().astimezone(UTC)
        version = f"{kind}-{created:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
        payload = io.BytesIO()
        joblib.dump(detector, payload)
        model_bytes = payload.getvalue()

        sidecar = dict(info)
        if "params" not in sidecar and callable(getattr(detector, "params", None)):
            sidecar["params"] = detector.params()
        sidecar.update(
            version=version,
            kind=kind,
            detector=f"{type(detector).__module__}.{type(detector).__qualname__}",
            created_at=created.isoformat(timespec="microseconds"),
            sha256=hashlib.sha256(model_bytes).hexdigest(),
            size_bytes=len(model_bytes),
        )
        sidecar_bytes = json.dumps(sidecar, indent=2, sort_keys=True, default=_json_default).encode()

        directory = self.root / kind
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(directory / f"{version}.joblib", model_bytes)
        _write_atomically(directory / f"{version}.json", sidecar_bytes)  # the commit point
        return version

    def load(self, version: str) -> Any:
        """The detector saved as `version`; `NotFound` if there is none, `CorruptModel` if damaged."""
        info = self.info(version)
        path = self._path(version, ".joblib")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"model file of {version} is missing") from None
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise CorruptModel(f"{path} does not match the checksum recorded when {version} was saved")
        return joblib.load(io.BytesIO(data))

    def latest(self, kind: str) -> str | None:
        """The most recently created version of `kind`, or None when there is none."""
        newest: tuple[datetime, str] | None = None
        for version in self.versions(kind):
            key = (datetime.fromisoformat(self.info(version)["created_at"]), version)
            if newest is None or key > newest:
                newest = key
        return newest[1] if newest else None

    def versions(self, kind: str) -> list[str]:
        """Every complete version of `kind` (its sidecar written), sorted by name."""
        if not _KIND.fullmatch(kind):
            return []
        directory = self.root / kind
        if not directory.is_dir():
            return []
        return sorted(p.stem for p in directory.glob("*.json") if _VERSION.fullmatch(p.stem))

    def info(self, version: str) -> dict[str, Any]:
        """The sidecar of `version`: the caller's info plus the registry's fields."""
        try:
            return json.loads(self._path(version, ".json").read_text())
        except FileNotFoundError:
            raise NotFound(f"no model version {version}") from None

    def for_kind(self, kind: str) -> KindRegistry:
        """This store as the domain's `ModelRegistry` port, for the models of one kind."""
        return KindRegistry(self, kind)

    def _path(self, version: str, suffix: str) -> Path:
        match = _VERSION.fullmatch(version)
        if not match:
            raise NotFound(f"not a model version: {version!r}")
        return self.root / match["kind"] / f"{version}{suffix}"


class KindRegistry:
    """The domain's `ModelRegistry` port over a `FileModelRegistry`, for one kind of model.

    `ModelInfo` fields go to the sidecar as JSON (its `kind` is the registry's own field);
    `latest()` and `load()` rebuild them, so every version of the kind must have been saved
    through this port (a sidecar without `trained_from`/`trained_to` is not a `ModelInfo`).
    An info whose `params` is empty records the detector's `params()` when it has one.
    """

    def __init__(self, registry: FileModelRegistry, kind: str) -> None:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"invalid model kind {kind!r}: lower-case letters, digits, '_' and '-'")
        self.registry = registry
        self.kind = kind

    def save(self, detector: Detector, info: ModelInfo) -> ModelVersion:
        if info.kind != self.kind:
            raise ValueError(f"a {info.kind!r} model given to the registry of {self.kind!r} models")
        fields = info.model_dump(mode="json", exclude={"kind"})
        if not fields["params"]:
            del fields["params"]  # let the registry record detector.params()
        return self._version(self.registry.save(detector, fields, kind=self.kind))

    def latest(self) -> ModelVersion | None:
        version = self.registry.latest(self.kind)
        return self._version(version) if version is not None else None

    def load(self, version: ModelVersion) -> Detector:
        if version.info.kind != self.kind:
            raise NotFound(f"{version.version} is not a {self.kind!r} model")
        return self.registry.load(version.version)

    def _version(self, version: str) -> ModelVersion:
        sidecar = self.registry.info(version)
        fields = {name: sidecar[name] for name in ModelInfo.model_fields if name in sidecar}
        return ModelVersion(version=version, created_at=sidecar["created_at"], info=ModelInfo(**fields))


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open directories
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy arrays
        return value.tolist()
    raise TypeError(f"info value of type {type(value).__name__} is not JSON-serialisable")
