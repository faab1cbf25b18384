"""Events as rows for binary COPY, in `sql.EVENT_COLUMNS` order, and the dumper that lets their
JSON `data` go into a jsonb column as the text it already is."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

from psycopg import postgres, pq
from psycopg.adapt import Dumper

from application.messages import ReceivedEvent


def event_rows(events: Collection[ReceivedEvent], scores: Sequence[float | None] | None) -> Iterator[tuple]:
    """Rows in `sql.EVENT_COLUMNS` order, `scores[i]` being `events[i]`'s; `data` as the JSON text the client sent."""
    for received, score in zip(events, [None] * len(events) if scores is None else scores, strict=True):
        e, timing = received.event, received.timing
        yield (
            e.event_id,
            e.user_id,
            e.session_id,
            e.event_type,  # StrEnum members are the strings they stand for (and `.value` costs a call)
            e.timestamp,
            e.device,
            e.country,
            e.value,
            e.data_json(),  # as sent: a key the client set to null is kept
            e.sent_at,
            received.received_at,
            received.topic,
            received.partition,
            received.offset,
            timing.event_time,
            timing.late,
            timing.future_clamped,
            score,
        )


class JsonTextAsJsonb(Dumper):
    """JSON text into a jsonb column by binary COPY: jsonb's binary form is a version byte (1)
    and the text. psycopg's own jsonb dumper would serialize the string again."""

    format = pq.Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()
