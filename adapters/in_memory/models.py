"""In-memory fakes of the model ports: `InMemoryModelRegistry` (the domain's `ModelRegistry`, one
kind of model, like `FileModelRegistry.for_kind`) and `InMemoryModelCatalog` (the application's
`ModelCatalog`, like `PostgresModelCatalog`), and `InMemoryAnomalyEvents` (the application's
`AnomalyEventSource` over a list, like `PostgresAnomalyEventSource`).

Both behave as their real counterparts do (tests/contracts/test_model_registry_contract.py holds
them to it): versions read `<kind>-<UTC time>-<8 hex>`, the latest version is the one created last
(ties: the greatest version), a model of another kind is refused. The registry keeps the detector
objects themselves: `load` returns the very object saved, not a copy.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from application.anomaly_training import CatalogEntry
from domain.errors import NotFound
from domain.events import UserEvent
from domain.scoring import Detector, ModelInfo, ModelVersion

_KIND = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class InMemoryModelRegistry:
    """The `ModelRegistry` port for the models of one kind, in a dict."""

    def __init__(self, kind: str, *, clock: Callable[[], datetime] | None = None) -> None:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"invalid model kind {kind!r}: lower-case letters, digits, '_' and '-'")
        self.kind = kind
        self._clock = clock or (lambda: datetime.now(UTC))
        self.detectors: dict[str, Detector] = {}
        self.versions: dict[str, ModelVersion] = {}

    def save(self, detector: Detector, info: ModelInfo) -> ModelVersion:
        if info.kind != self.kind:
            raise ValueError(f"a {info.kind!r} model given to the registry of {self.kind!r} models")
        params = getattr(detector, "params", None)
        if not info.params and callable(params):  # as the file registry: record the detector's own
            info = info.model_copy(update={"params": params()})
        created = self._clock().astimezone(UTC)
        version = ModelVersion(
            version=f"{self.kind}-{created:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}", created_at=created, info=info
        )
        self.detectors[version.version] = detector
        self.versions[version.version] = version
        return version

    def latest(self) -> ModelVersion | None:
        if not self.versions:
            return None
        return max(self.versions.values(), key=lambda v: (v.created_at, v.version))

    def load(self, version: ModelVersion) -> Detector:
        if version.info.kind != self.kind:
            raise NotFound(f"{version.version} is not a {self.kind!r} model")
        try:
            return self.detectors[version.version]
        except KeyError:
            raise NotFound(f"no model version {version.version}") from None


class InMemoryModelCatalog:
    """The `ModelCatalog` port over a dict of version -> entry."""

    def __init__(self) -> None:
        self.entries: dict[str, CatalogEntry] = {}

    def record(self, version: ModelVersion, training_events: int) -> None:
        if training_events < 0:
            raise ValueError(f"training_events must be >= 0, got {training_events}")
        self.entries.setdefault(version.version, CatalogEntry(version, training_events))

    def latest(self, kind: str) -> ModelVersion | None:
        newest = self.list(kind, limit=1)
        return newest[0].model if newest else None

    def list(self, kind: str, limit: int = 20) -> list[CatalogEntry]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        mine = [e for e in self.entries.values() if e.model.info.kind == kind]
        mine.sort(key=lambda e: (e.model.created_at, e.model.version), reverse=True)
        return mine[:limit]


class InMemoryAnomalyEvents:
    """`AnomalyEventSource` over a list of (event, event time), kept in (event time, event id) order."""

    def __init__(self, timed: list[tuple[UserEvent, datetime]]) -> None:
        self.timed = sorted(timed, key=lambda pair: (pair[1], str(pair[0].event_id)))
        self.asked: list[tuple[datetime, datetime]] = []

    def newest_event_time(self) -> datetime | None:
        return self.timed[-1][1] if self.timed else None

    def events_between(self, start, end):
        self.asked.append((start, end))
        return ((e, t) for e, t in self.timed if start <= t <= end)
