"""Repositories of events, users and dead letters on one SQLAlchemy connection. Events and dead
letters go by COPY into per-connection staging tables (`adapters.postgres.staging`), then one
set-based statement; events taken as all new skip the staging table (`add_all_new`). Users'
deltas go as arrays into one merge. Per-row INSERTs are the bottleneck this design avoids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from uuid import UUID

import psycopg.errors
from sqlalchemy import select, update

from adapters.postgres import sql
from adapters.postgres.engine import translated_errors
from adapters.postgres.event_rows import JsonTextAsJsonb, event_rows
from adapters.postgres.staging import BINARY, NUMBER, TEXT, CopyingRepository, array_params, text_array
from adapters.postgres.tables import events, failed_events, users
from application.messages import LogPosition, ReceivedEvent, first_occurrences
from domain.errors import AlreadyStored
from domain.event_time import EventTiming
from domain.events import Device, EventType, PastEvent
from domain.failures import ErrorType, FailedEvent
from domain.users import User, UserActivity, UserTotals
from domain.validation import USER_EVENT


class PostgresEventRepository(CopyingRepository):
    def add_new(
        self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None
    ) -> list[ReceivedEvent]:
        first = first_occurrences(events)
        if not first:
            return []
        if scores is not None and len(first) < len(events):  # the first occurrences' scores, in their order
            firsts: dict[UUID, float | None] = {}
            for received, score in zip(events, scores, strict=True):
                firsts.setdefault(received.event.event_id, score)
            scores = list(firsts.values())
        with translated_errors(), self._cursor() as cur:
            self._copy(cur, sql.COPY_EVENTS, event_rows(first.values(), scores))
            cur.execute(sql.INSERT_NEW_EVENTS)
            inserted = cur.fetchall()
        if len(inserted) == len(first):  # the usual case: all new, no membership test per event
            return list(first.values())
        stored = {row[0] for row in inserted}
        return [received for event_id, received in first.items() if event_id in stored]

    def add_all_new(self, events: Sequence[ReceivedEvent], scores: Sequence[float | None] | None = None) -> None:
        # Straight into the table: no staging copy, no conflict check per row, no ids sent back.
        # About half the work of `add_new`; a stored id fails the whole COPY instead.
        if not events:
            return
        with translated_errors(), self._cursor() as cur:
            cur.adapters.register_dumper(None, JsonTextAsJsonb)  # this cursor's jsonb columns: text as is
            try:
                self._copy(cur, sql.COPY_EVENTS_DIRECT, event_rows(events, scores))
            except psycopg.errors.UniqueViolation as error:
                raise AlreadyStored(str(error).splitlines()[0]) from error

    def unseen(self, events: Sequence[ReceivedEvent]) -> list[ReceivedEvent]:
        first = first_occurrences(events)
        if not first:
            return []
        # One text literal parsed by the server: adapting 20,000 UUID objects costs more than the query.
        ids = "{" + ",".join(map(str, first)) + "}"
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.STORED_EVENT_IDS, (ids,))
            stored = {row[0] for row in cur.fetchall()}
        if not stored:
            return list(first.values())
        return [received for event_id, received in first.items() if event_id not in stored]

    def recent_by_user(self, user_ids: Sequence[str], limit: int) -> dict[str, list[tuple[PastEvent, datetime]]]:
        if not user_ids or limit <= 0:
            return {}
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.RECENT_BY_USER, (text_array(list(user_ids)), limit))
            return past_events_by_user(cur.fetchall())

    def anomaly_score(self, event_id: UUID) -> float | None:
        with translated_errors():
            return self._conn.execute(select(events.c.anomaly_score).where(events.c.event_id == event_id)).scalar()

    def count(self) -> int:
        return self._count(events)

    def in_log_order(self, page_size: int) -> Iterator[list[ReceivedEvent]]:
        c = events.c
        query = select(events).order_by(c.source_topic, c.source_partition, c.source_offset)
        # A server-side cursor: one sort, then pages, while the same transaction writes.
        with translated_errors():
            result = self._conn.execution_options(yield_per=page_size).execute(query)
            for page in result.mappings().partitions():
                yield [_received_from_row(r) for r in page]


# Stored text back to the members it was written from (`EventType(text)` is a slower lookup).
_EVENT_TYPES = {kind.value: kind for kind in EventType}
_DEVICES = {device.value: device for device in Device}


def past_events_by_user(rows: Iterable[tuple]) -> dict[str, list[tuple[PastEvent, datetime]]]:
    """Rows of (event_id, user_id, session_id, event_type, device, country, value, event_time), as
    each user's `PastEvent`s with their event times, in the rows' order."""
    by_user: dict[str, list[tuple[PastEvent, datetime]]] = {}
    kinds, devices = _EVENT_TYPES, _DEVICES
    for event_id, user_id, session_id, kind, device, country, value, moment in rows:
        past = PastEvent(event_id, user_id, session_id, kinds[kind], devices[device], country, value)
        by_user.setdefault(user_id, []).append((past, moment))
    return by_user


_USER_KINDS = (TEXT, BINARY, BINARY, NUMBER, NUMBER, NUMBER, TEXT)  # sql.USER_COLUMNS


class PostgresUserRepository(CopyingRepository):
    def apply(self, activity: Iterable[UserActivity]) -> dict[str, UserTotals]:
        rows = list(activity)  # UserActivity tuples are in `sql.USER_COLUMNS` order
        if not rows:
            return {}
        with translated_errors(), self._cursor() as cur:
            cur.execute(sql.MERGE_USERS, array_params(rows, _USER_KINDS))
            return {user_id: UserTotals(events, purchases) for user_id, events, purchases in cur.fetchall()}

    def get(self, user_id: str) -> User | None:
        return self.get_many([user_id])[user_id]

    def get_many(self, user_ids: Iterable[str]) -> dict[str, User | None]:
        wanted = list(user_ids)
        found: dict[str, User | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        with translated_errors():
            rows = self._conn.execute(select(users).where(users.c.user_id.in_(wanted))).mappings()
            for row in rows:
                found[row["user_id"]] = User.model_validate(dict(row))
        return found

    def count(self) -> int:
        return self._count(users)


class PostgresDeadLetterRepository(CopyingRepository):
    def add(self, failures: Sequence[FailedEvent]) -> int:
        if not failures:
            return 0
        with translated_errors(), self._cursor() as cur:
            types = self._column_types(cur, sql.COPY_FAILED)  # before the COPY, which holds the connection
            with cur.copy(sql.COPY_FAILED) as copy:
                copy.set_types(types)
                for f in failures:
                    copy.write_row(
                        (
                            f.event_id,
                            f.error_type.value,
                            f.error_reason,
                            f.raw_data,
                            f.raw_encoding,
                            f.raw_truncated,
                            f.source_topic,
                            f.source_partition,
                            f.source_offset,
                            f.processor_version,
                            f.failed_at,
                            f.request_key,
                            f.request_index,
                        )
                    )
            cur.execute(sql.INSERT_NEW_FAILED)
            return cur.rowcount

    def count(self) -> int:
        return self._count(failed_events)

    def latest(self, limit: int) -> list[FailedEvent]:
        return self._select(select(failed_events).order_by(failed_events.c.id.desc()).limit(limit))

    def pending_replay(self, error_type: str | None, limit: int) -> list[FailedEvent]:
        f = failed_events.c
        query = select(failed_events).where(f.replayed_at.is_(None)).order_by(f.id).limit(limit)
        if error_type is not None:
            query = query.where(f.error_type == error_type)
        return self._select(query)

    def mark_replayed(self, ids: Sequence[int], at: datetime) -> None:
        if ids:
            with translated_errors():
                self._conn.execute(
                    update(failed_events).where(failed_events.c.id.in_(list(ids))).values(replayed_at=at)
                )

    def _select(self, query) -> list[FailedEvent]:
        with translated_errors():
            rows = self._conn.execute(query).mappings().all()
        return [
            FailedEvent(
                id=r["id"],
                error_type=ErrorType(r["error_type"]),
                error_reason=r["error_reason"],
                raw_data=r["raw_data"],
                raw_encoding=r["raw_encoding"],
                raw_truncated=r["raw_truncated"],
                event_id=r["event_id"],
                source_topic=r["source_topic"],
                source_partition=r["source_partition"],
                source_offset=r["source_offset"],
                request_key=r["request_key"],
                request_index=r["request_index"],
                processor_version=r["processor_version"],
                failed_at=r["timestamp"],
            )
            for r in rows
        ]


class PostgresOffsetRepository(CopyingRepository):
    def committed(self, consumer: str, topic: str) -> dict[int, int]:
        with translated_errors():
            rows = self._conn.exec_driver_sql(sql.SELECT_OFFSETS, (consumer, topic)).all()
        return {partition: next_offset for partition, next_offset in rows}

    def advance(self, position: LogPosition) -> None:
        p = position
        with translated_errors():
            self._conn.exec_driver_sql(
                sql.UPSERT_OFFSET, (p.consumer, p.topic, p.partition, p.next_offset, p.received_until)
            )


def _received_from_row(row) -> ReceivedEvent:
    doc = {k: row[k] for k in _EVENT_FIELDS if row[k] is not None}
    doc["data"] = row["data"]
    event = USER_EVENT.validate_python(doc, strict=False)
    timing = EventTiming(row["event_time"], row["late"], row["future_clamped"])
    return ReceivedEvent(
        event, row["source_topic"], row["source_partition"], row["source_offset"], row["received_at"], timing
    )


_EVENT_FIELDS = (
    "event_id",
    "user_id",
    "session_id",
    "event_type",
    "timestamp",
    "device",
    "country",
    "value",
    "sent_at",
)
