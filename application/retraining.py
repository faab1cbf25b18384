"""Keeping the batch model fresh without a cron job: train one as soon as enough events are
stored; retrain whenever at least as many events arrived after its training window as it
learned from (so a young platform's first model, fitted on its first minutes, is soon
replaced by one fitted on more: 5k, 10k, 20k events...), and in any case every `every_s`.
Running dataflows pick each new version up by themselves (`application.scoring.LatestModel`).

`Retrainer.step` is the whole policy, so it is tested without threads or clocks; `run` loops
it until stopped. A failed or premature training (too few events) is retried after `retry_s`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from application.anomaly_training import AnomalyTrainingReport, CatalogEntry, NotEnoughEvents

log = logging.getLogger(__name__)


class Retrainer:
    def __init__(
        self,
        train: Callable[[], AnomalyTrainingReport],
        latest: Callable[[], CatalogEntry | None],
        events_after: Callable[[datetime], int],
        *,
        every_s: float,
        retry_s: float,
        now: Callable[[], datetime],
    ) -> None:
        self._train = train
        self._latest = latest
        self._events_after = events_after
        self._every_s = every_s
        self._retry_s = retry_s
        self._now = now

    def step(self) -> float:
        """Train if due; return the seconds to wait before the next step."""
        try:
            latest = self._latest()
            if latest is not None:
                age = (self._now() - latest.model.created_at).total_seconds()
                if age < self._every_s:
                    newer = self._events_after(latest.model.info.trained_to)
                    if newer < max(latest.training_events, 1):
                        return min(self._every_s - age, self._retry_s)  # look again for growth
        except Exception:
            log.warning("cannot list batch models or count events", exc_info=True)
            return self._retry_s
        try:
            report = self._train()
        except NotEnoughEvents as error:
            log.info("batch model not trained yet", extra={"reason": str(error)})
            return self._retry_s
        except Exception:  # the platform keeps ingesting and scoring with what it has
            log.warning("batch model training failed", exc_info=True)
            return self._retry_s
        log.info(
            "batch model trained",
            extra={"model_version": report.model.version, "training_events": report.training_events},
        )
        return self._every_s

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.step()):
            pass
