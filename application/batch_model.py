"""The batch model in service: the registry's newest, swapped in when a newer one appears."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from domain.scoring import Detector, ModelRegistry, ModelVersion

log = logging.getLogger(__name__)


class LatestModel:
    """The registry's newest batch model, loaded once and swapped when a newer one appears.

    Shared by every partition of a process (scoring with a loaded model is read-only). A
    version that fails to load is logged and skipped; the current model stays in service.
    """

    def __init__(self, registry: ModelRegistry, *, poll_s: float, monotonic: Callable[[], float]) -> None:
        self._registry = registry
        self._poll_s = poll_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._current: tuple[ModelVersion, Detector] | None = None
        self._failed: str | None = None

    def current(self) -> tuple[ModelVersion, Detector] | None:
        checked = self._checked_at
        if checked is not None and self._monotonic() - checked < self._poll_s:
            return self._current
        with self._lock:  # one thread loads; the others wait for it rather than score without the model
            if self._checked_at is None or self._monotonic() - self._checked_at >= self._poll_s:
                self._refresh()
                self._checked_at = self._monotonic()
            return self._current

    def _refresh(self) -> None:
        try:
            latest = self._registry.latest()
        except Exception:  # a registry hiccup must not stop ingestion; scoring goes on with what it has
            log.warning("cannot list batch models", exc_info=True)
            return
        if latest is None or (self._current and self._current[0].version == latest.version):
            return
        if latest.version == self._failed:
            return
        try:
            detector = self._registry.load(latest)
        except Exception:
            self._failed = latest.version
            log.warning("cannot load batch model", extra={"model_version": latest.version}, exc_info=True)
            return
        previous = self._current[0].version if self._current else None
        self._current = (latest, detector)
        log.info("batch model in service", extra={"model_version": latest.version, "previous": previous})
