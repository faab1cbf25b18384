"""Spans of the dataflow for the traced events among its micro-batches.

Events are validated, scored and written a batch at a time, so the spans are recorded when
the batch commits, with the batch's real timings: each traced event gets a CONSUMER span
(`user-events process`, a child of the producer's span from the `traceparent` header) with
`validate`, `score` and `db write` children, so one trace runs from the API request or the
generator to the database commit. One `store batch` span links every traced event it held.
Untraced events cost one header look-up.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer

from adapters.telemetry.kafka_context import sampled_context
from application.messages import BatchOutcome, IngestBatch, RawMessage


@dataclass(frozen=True, slots=True)
class _Traced:
    context: Context
    record: RawMessage
    decode_ns: tuple[int, int]
    event_id: str | None
    error_type: str | None


class BatchSpans:
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._lock = threading.Lock()  # decoded on the worker thread, recorded on the writer thread
        self._pending: dict[int, list[_Traced]] = defaultdict(list)

    def decoded(self, records: Sequence[RawMessage], batch: IngestBatch, started_ns: int, ended_ns: int) -> None:
        traced = [(r, context) for r in records if r.headers and (context := sampled_context(r.headers)) is not None]
        if not traced:
            return
        ids = {r.offset: str(r.event.event_id) for r in batch.events}
        failures = {f.source_offset: f for f in batch.failures}
        entries = []
        for record, context in traced:
            failure = failures.get(record.offset)
            event_id = ids.get(record.offset) or (failure.event_id if failure is not None else None)
            error_type = failure.error_type.value if failure is not None else None
            entries.append(_Traced(context, record, (started_ns, ended_ns), event_id, error_type))
        with self._lock:
            self._pending[batch.position.partition].extend(entries)

    def recorded(self, batch: IngestBatch, outcome: BatchOutcome, committed_ns: int) -> None:
        with self._lock:
            waiting = self._pending.get(batch.position.partition)
            if not waiting:
                return
            done = [t for t in waiting if t.record.offset < batch.position.next_offset]
            waiting[:] = [t for t in waiting if t.record.offset >= batch.position.next_offset]
        write_ns = committed_ns - int(outcome.write_seconds * 1e9)
        size = len(batch.events) + len(batch.failures)
        links = [Link(self._event_spans(t, outcome, write_ns, committed_ns, size)) for t in done]
        self._tracer.start_span(
            "store batch",
            kind=SpanKind.INTERNAL,
            links=links,
            start_time=write_ns,
            attributes=_batch_attributes(batch, size),
        ).end(end_time=committed_ns)

    def _event_spans(self, traced: _Traced, outcome: BatchOutcome, write_ns: int, committed_ns: int, size: int):
        record = traced.record
        start, decoded = traced.decode_ns
        process = self._tracer.start_span(
            f"{record.topic} process",
            context=traced.context,
            kind=SpanKind.CONSUMER,
            start_time=start,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.kafka.message.key": (record.key or b"").decode("utf-8", "replace"),
                "messaging.batch.message_count": size,
                **({"analytics.event_id": traced.event_id} if traced.event_id else {}),
            },
        )
        inside = trace.set_span_in_context(process)
        validate = self._tracer.start_span("validate", context=inside, start_time=start)
        if traced.error_type is not None:
            validate.set_attribute("error.type", traced.error_type)
            validate.set_status(Status(StatusCode.ERROR, f"dead-lettered: {traced.error_type}"))
        validate.end(end_time=decoded)
        if traced.error_type is None and outcome.scoring_seconds > 0:
            score_end = write_ns + int(outcome.scoring_seconds * 1e9)
            score = self._tracer.start_span("score", context=inside, start_time=write_ns)
            if outcome.model_version:
                score.set_attribute("analytics.model_version", outcome.model_version)
            score.end(end_time=score_end)
        self._tracer.start_span(
            "db write",
            context=inside,
            kind=SpanKind.CLIENT,
            start_time=write_ns,
            attributes={
                "db.system.name": "postgresql",
                "db.operation.name": "COPY",
                "db.operation.batch.size": size,
                "db.collection.name": "failed_events" if traced.error_type else "events",
            },
        ).end(end_time=committed_ns)
        process.end(end_time=committed_ns)
        return process.get_span_context()


def _batch_attributes(batch: IngestBatch, size: int) -> dict[str, object]:
    return {
        "messaging.system": "kafka",
        "messaging.destination.name": batch.position.topic,
        "messaging.destination.partition.id": str(batch.position.partition),
        "messaging.batch.message_count": size,
        "analytics.next_offset": batch.position.next_offset,
    }
