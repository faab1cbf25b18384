"""Anomaly-detector training on Postgres: the events it learns from, and the catalog of models.

`PostgresAnomalyEventSource` is the application's `AnomalyEventSource`: one streaming query
(a server-side cursor, pages of `page_size` rows) over the `events` table in (event_time,
event_id) order, each row rebuilt into its `UserEvent` as the replay read does
(`adapters.postgres.repositories`), paired with its stored event time.

`PostgresModelCatalog` is the application's `ModelCatalog` over the `models` table: one row per
saved model version (the model files stay in the registry under the data directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from adapters.postgres.engine import translated_errors
from adapters.postgres.tables import events, models
from application.anomaly_training import CatalogEntry
from domain.events import UserEvent
from domain.scoring import ModelInfo, ModelVersion
from domain.validation import USER_EVENT

_PAGE = 10_000
_EVENT_FIELDS = (
    "event_id", "user_id", "session_id", "event_type", "timestamp", "device", "country", "value", "sent_at",
)  # fmt: skip


class PostgresAnomalyEventSource:
    """Events in event-time order from the `events` table (read-only)."""

    def __init__(self, engine: Engine, *, page_size: int = _PAGE) -> None:
        self._engine = engine
        self._page_size = page_size

    def newest_event_time(self) -> datetime | None:
        with translated_errors(), self._engine.connect() as conn:
            return conn.execute(select(func.max(events.c.event_time))).scalar_one()

    def count_after(self, moment: datetime) -> int:
        """Events stamped after `moment` (the index on event time serves it)."""
        with translated_errors(), self._engine.connect() as conn:
            return conn.execute(select(func.count()).where(events.c.event_time > moment)).scalar_one()

    def events_between(self, start: datetime, end: datetime) -> Iterator[tuple[UserEvent, datetime]]:
        """(event, event time) of the events stamped in `[start, end]`, by event time then event id."""
        c = events.c
        query = (
            select(*(c[name] for name in _EVENT_FIELDS), c.data, c.event_time)
            .where(c.event_time >= start, c.event_time <= end)
            .order_by(c.event_time, c.event_id)
        )
        with translated_errors(), self._engine.connect() as conn:
            result = conn.execution_options(yield_per=self._page_size).execute(query)
            for page in result.mappings().partitions():
                for row in page:
                    yield _event_from_row(row), row["event_time"]


def _event_from_row(row) -> UserEvent:
    doc = {name: row[name] for name in _EVENT_FIELDS if row[name] is not None}
    doc["data"] = row["data"]
    return USER_EVENT.validate_python(doc, strict=False)


class PostgresModelCatalog:
    """The `models` table: one row per saved model version."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, version: ModelVersion, training_events: int) -> None:
        if training_events < 0:
            raise ValueError(f"training_events must be >= 0, got {training_events}")
        info = version.info.model_dump(mode="json")
        row = {
            "version": version.version,
            "kind": version.info.kind,
            "created_at": version.created_at,
            "trained_from": version.info.trained_from,
            "trained_to": version.info.trained_to,
            "training_events": training_events,
            "params": info["params"],
            "metrics": info["metrics"],
            "features": list(version.info.features),
        }
        statement = insert(models).values(row).on_conflict_do_nothing(index_elements=[models.c.version])
        with translated_errors(), self._engine.begin() as conn:
            conn.execute(statement)

    def latest(self, kind: str) -> ModelVersion | None:
        newest = self.list(kind, limit=1)
        return newest[0].model if newest else None

    def list(self, kind: str, limit: int = 20) -> list[CatalogEntry]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        c = models.c
        query = select(models).where(c.kind == kind).order_by(c.created_at.desc(), c.version.desc()).limit(limit)
        with translated_errors(), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [CatalogEntry(_version_from_row(row), row["training_events"]) for row in rows]


def _version_from_row(row) -> ModelVersion:
    info = ModelInfo(
        kind=row["kind"],
        params=row["params"],
        trained_from=row["trained_from"],
        trained_to=row["trained_to"],
        metrics=row["metrics"],
        features=tuple(row["features"]),
    )
    return ModelVersion(version=row["version"], created_at=row["created_at"], info=info)
