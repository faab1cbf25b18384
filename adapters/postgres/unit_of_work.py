"""`PostgresUnitOfWork`: one transaction on a pooled connection, with the repositories."""

from __future__ import annotations

from typing import Self

from sqlalchemy import Connection, Engine

from adapters.postgres.engine import translated_errors
from adapters.postgres.feature_states import PostgresFeatureStateRepository
from adapters.postgres.projections import (
    PostgresDailyStatsRepository,
    PostgresSessionRepository,
    PostgresWindowRepository,
)
from adapters.postgres.repositories import (
    PostgresDeadLetterRepository,
    PostgresEventRepository,
    PostgresOffsetRepository,
    PostgresUserRepository,
)
from adapters.postgres.scoring_repositories import PostgresAnomalyRepository, PostgresDetectorStateRepository
from adapters.postgres.staging import staging_committed, staging_rolled_back
from adapters.postgres.tables import PROJECTION_TABLES
from domain.errors import StorageUnavailable


class PostgresUnitOfWork:
    """Everything done through the repositories commits or rolls back together."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        with translated_errors():
            self._connection = self._engine.connect()
            self._connection.begin()
        conn = self._connection
        self.events = PostgresEventRepository(conn)
        self.users = PostgresUserRepository(conn)
        self.dead_letters = PostgresDeadLetterRepository(conn)
        self.offsets = PostgresOffsetRepository(conn)
        self.daily_stats = PostgresDailyStatsRepository(conn)
        self.windows = PostgresWindowRepository(conn)
        self.sessions = PostgresSessionRepository(conn)
        self.anomalies = PostgresAnomalyRepository(conn)
        self.detector_states = PostgresDetectorStateRepository(conn)
        self.feature_states = PostgresFeatureStateRepository(conn)
        return self

    def clear_projections(self) -> None:
        assert self._connection is not None, "clear_projections() outside of `with`"
        with translated_errors():
            self._connection.exec_driver_sql(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")

    def __exit__(self, *exc_info: object) -> None:
        conn, self._connection = self._connection, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                _rollback(conn)
        except StorageUnavailable:
            # The connection is gone (the server restarted, say) and the server discarded the
            # uncommitted work with it: nothing is left to undo. Raising would replace the error
            # that ended the unit of work, or fail one that had committed.
            pass
        finally:
            conn.close()

    def commit(self) -> None:
        assert self._connection is not None, "commit() outside of `with`"
        with translated_errors():
            self._connection.commit()
            staging_committed(self._connection.connection.info)
            self._connection.begin()

    def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction():
            _rollback(self._connection)
            self._connection.begin()


def _rollback(conn: Connection) -> None:
    # A rollback may undo the creation of the staging tables: then have them made again.
    if not conn.invalidated:
        staging_rolled_back(conn.connection.info)
    with translated_errors():
        conn.rollback()
