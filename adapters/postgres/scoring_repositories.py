"""What scoring keeps in the store: anomaly records and the online detectors' saved states.

Both write in the batch's unit of work (same connection and transaction as the events).
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.postgres import sql
from adapters.postgres.engine import translated_errors
from adapters.postgres.staging import CopyingRepository
from adapters.postgres.tables import anomalies
from application.messages import Anomaly


class PostgresAnomalyRepository(CopyingRepository):
    def add(self, anomalies: Sequence[Anomaly]) -> int:
        if not anomalies:
            return 0
        columns = (
            [a.event_id for a in anomalies],
            [a.user_id for a in anomalies],
            [a.score for a in anomalies],
            # A text[] per row does not fit unnest's one-dimensional arrays: reasons travel as
            # one Postgres array literal each and are cast back.
            [_array_literal(a.reasons) for a in anomalies],
            [a.detected_at for a in anomalies],
            [a.model_version for a in anomalies],
        )
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.INSERT_NEW_ANOMALIES, columns)
            return cur.rowcount

    def count(self) -> int:
        return self._count(anomalies)


class PostgresDetectorStateRepository(CopyingRepository):
    def load(self, name: str, partition: int) -> bytes | None:
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.LOAD_DETECTOR_STATE, (name, partition))
            row = cur.fetchone()
        return bytes(row[0]) if row else None

    def save(self, name: str, partition: int, state: bytes, events_learned: int) -> None:
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.SAVE_DETECTOR_STATE, (name, partition, state, events_learned))


def _array_literal(items: Sequence[str]) -> str:
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"
