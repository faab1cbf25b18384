"""Churn on Postgres: the events a churn model learns from, and where its scores go.

`PostgresChurnEventSource` is the application's `ChurnEventSource`: one streaming query
(a server-side cursor, rows in (user_id, event_time) order) grouped into each user's events,
by event time (see `domain.event_time`). `save_churn_scores` writes a scoring run into
`churn_scores`, which `GET /v1/users/{user_id}` reads: COPY into a staging table, then one
upsert, in one transaction, so readers see the previous run or the new one, never a mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Engine, func, select

from adapters.postgres.engine import translated_errors
from adapters.postgres.tables import events
from domain.churn import ChurnEvent

_PAGE = 10_000

_CREATE_STAGING = """
CREATE TEMP TABLE churn_scores_incoming ON COMMIT DROP
    AS SELECT user_id, probability, model_version, scored_at FROM churn_scores WITH NO DATA
"""
_COPY = "COPY churn_scores_incoming (user_id, probability, model_version, scored_at) FROM STDIN"
# A run never overwrites the score of a later one (scoring runs may overlap).
_UPSERT = """
INSERT INTO churn_scores AS s (user_id, probability, model_version, scored_at)
SELECT user_id, probability, model_version, scored_at FROM churn_scores_incoming ORDER BY user_id
ON CONFLICT (user_id) DO UPDATE SET
    probability = EXCLUDED.probability,
    model_version = EXCLUDED.model_version,
    scored_at = EXCLUDED.scored_at
WHERE s.scored_at <= EXCLUDED.scored_at
"""


class PostgresChurnEventSource:
    """Events per user from the `events` table (read-only)."""

    def __init__(self, engine: Engine, *, page_size: int = _PAGE) -> None:
        self._engine = engine
        self._page_size = page_size

    def events_by_user(self, until: datetime) -> dict[str, list[ChurnEvent]]:
        """Every user's events stamped at or before `until`, each user's in event-time order."""
        c = events.c
        query = (
            select(c.user_id, c.event_time, c.event_type, c.value, c.session_id)
            .where(c.event_time <= until)
            .order_by(c.user_id, c.event_time, c.event_id)
        )
        by_user: dict[str, list[ChurnEvent]] = {}
        with translated_errors(), self._engine.connect() as conn:
            result = conn.execution_options(yield_per=self._page_size).execute(query)
            for page in result.partitions():
                for user, rows in groupby(page, key=itemgetter(0)):
                    by_user.setdefault(user, []).extend(
                        (event_time, event_type, value, str(session_id))
                        for _, event_time, event_type, value, session_id in rows
                    )
        return by_user

    def time_span(self) -> tuple[datetime, datetime] | None:
        c = events.c
        with translated_errors(), self._engine.connect() as conn:
            first, last = conn.execute(select(func.min(c.event_time), func.max(c.event_time))).one()
        return None if first is None else (first, last)


def save_churn_scores(engine: Engine, scores: Mapping[str, float], model_version: str, scored_at: datetime) -> int:
    """Upsert one scoring run into `churn_scores` in one transaction; returns the rows sent."""
    for user, probability in scores.items():
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"churn probability of {user!r} is not in [0, 1]: {probability}")
    with translated_errors(), engine.begin() as conn:
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(_CREATE_STAGING)
            with cur.copy(_COPY) as copy:
                for user, probability in scores.items():
                    copy.write_row((user, float(probability), model_version, scored_at))
            cur.execute(_UPSERT)
    return len(scores)
