"""W3C trace context on Kafka records: `traceparent` (and `tracestate`) headers.

Producing an event starts a PRODUCER span (a child of whatever span is current, e.g. the
API request) and writes its context into the record's headers; the dataflow reads it back
to continue the same trace. Messaging semantic conventions name the attributes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from application.ports.event_log import DeliveryReport, EventPublisher, OnRefused, OnRefusedAt

TRACEPARENT = "traceparent"
_PROPAGATOR = TraceContextTextMapPropagator()


class TracedEventPublisher:
    """An `EventPublisher` that traces what it publishes to `topics` (others pass through)."""

    def __init__(self, inner: EventPublisher, tracer: Tracer, topics: Collection[str]) -> None:
        self._inner = inner
        self._tracer = tracer
        self._topics = frozenset(topics)

    def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
        on_refused: OnRefused | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        if topic not in self._topics:
            self._inner.publish(topic, key, value, headers, on_refused, timestamp_ms)
            return
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
                "messaging.kafka.message.key": key.decode("utf-8", "replace") if key else "",
                "messaging.message.body.size": len(value),
            },
        ) as span:
            if span.get_span_context().trace_flags.sampled:
                carrier: dict[str, str] = {}
                _PROPAGATOR.inject(carrier)
                headers = [*headers, *((name, text.encode()) for name, text in carrier.items())]
            self._inner.publish(topic, key, value, headers, on_refused, timestamp_ms)

    def publish_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes]], on_refused: OnRefusedAt) -> None:
        if topic not in self._topics:
            self._inner.publish_many(topic, records, on_refused)
            return
        for index, (key, value) in enumerate(records):  # a span and trace headers per record
            self.publish(topic, key, value, on_refused=partial(on_refused, index))

    def flush(self, timeout: float = 30.0) -> DeliveryReport:
        return self._inner.flush(timeout)

    def report(self) -> DeliveryReport:
        return self._inner.report()

    def __getattr__(self, name: str):  # noqa: ANN204 - the wrapped publisher's extras (totals, close, last_error)
        return getattr(self._inner, name)


def sampled_context(headers: Sequence[tuple[str, bytes]]) -> Context | None:
    """The trace context a record carries, if its trace is sampled (else None: nothing to record)."""
    for name, value in headers:
        # 00-<trace id>-<span id>-<flags>: the flags' low bit says "sampled"; test it before parsing.
        if name == TRACEPARENT and len(value) == 55 and value[-1:] in b"13579bdfBDF":
            carrier = {n: v.decode("ascii", "replace") for n, v in headers if n in (TRACEPARENT, "tracestate")}
            context = _PROPAGATOR.extract(carrier)
            return context if trace.get_current_span(context).get_span_context().is_valid else None
    return None
