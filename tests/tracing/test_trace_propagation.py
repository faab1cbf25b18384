"""One trace follows an event: API request -> Kafka record (`traceparent`) -> dataflow -> database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson  # noqa: I001 - last: the doc's bytes as a client sends them
from bytewax.testing import TestingSource, run_main
from litestar.testing import TestClient
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from adapters.in_memory.event_store import InMemoryUnitOfWork
from adapters.telemetry.batch_spans import BatchSpans
from adapters.telemetry.kafka_context import TRACEPARENT, TracedEventPublisher, sampled_context
from application.decoding import decode_batch
from application.ingest import Recorder
from application.messages import IngestBatch, RawMessage
from dataflows.ingest import build_ingest_flow
from dataflows.store_sink import StoreSink
from entrypoints.logs import TraceIds
from tests.api.conftest import Platform, build_client, headers
from tests.factories import event_doc


def _run_dataflow(platform: Platform, records: list[RawMessage], spans_of_batches: BatchSpans) -> None:
    """The processor's wiring (entrypoints.processor) on in-memory adapters."""
    recorder = Recorder(lambda: InMemoryUnitOfWork(platform.state), "test")

    def decode(batch_records: list[RawMessage]) -> IngestBatch:
        started = trace_ns()
        batch = decode_batch(batch_records, consumer="c", processor_version="test", now=datetime.now(UTC))
        spans_of_batches.decoded(batch_records, batch, started, trace_ns())
        return batch

    def record(batch: IngestBatch):
        return recorder(batch, now=datetime.now(UTC))

    sink = StoreSink([0, 1, 2], record, on_recorded=lambda b, o: spans_of_batches.recorded(b, o, trace_ns()))
    run_main(build_ingest_flow(TestingSource([records]), sink, decode=decode))


def trace_ns() -> int:
    import time

    return time.time_ns()


def _traced_client(platform: Platform) -> TestClient:
    client = build_client(platform)
    collector = client.app.dependencies["collector"].dependency()
    object.__setattr__(
        collector, "publisher", TracedEventPublisher(platform.log, trace.get_tracer("test"), {"user-events"})
    )
    return client


def test_an_event_posted_to_the_api_is_one_trace_down_to_the_database_write(spans):
    platform = Platform()
    doc = event_doc("purchase", user_id="alice", value="12.50")
    with _traced_client(platform) as client:
        response = client.post("/v1/events", content=orjson.dumps(doc), headers=headers("ingest"))
    assert response.status_code == 202, response.text

    (record,) = [r for p in range(3) for r in platform.log.read("user-events", p, 0, 10)]
    assert TRACEPARENT in dict(record.headers)
    _run_dataflow(platform, [record], BatchSpans(trace.get_tracer("test-dataflow")))

    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished}
    server = next(s for s in finished if s.kind is SpanKind.SERVER and "/v1/events" in s.name)
    producer, consumer = by_name["user-events publish"], by_name["user-events process"]
    write = by_name["db write"]
    trace_id = server.context.trace_id
    assert {producer.context.trace_id, consumer.context.trace_id, write.context.trace_id} == {trace_id}
    assert producer.kind is SpanKind.PRODUCER and consumer.kind is SpanKind.CONSUMER
    assert consumer.parent.span_id == producer.context.span_id  # continued from the header
    assert by_name["validate"].parent.span_id == consumer.context.span_id
    assert write.parent.span_id == consumer.context.span_id
    assert consumer.attributes["messaging.system"] == "kafka"
    assert consumer.attributes["messaging.destination.name"] == "user-events"
    assert consumer.attributes["messaging.kafka.offset"] == record.offset
    assert consumer.attributes["analytics.event_id"] == doc["event_id"]
    assert write.attributes["db.system.name"] == "postgresql"
    # The batch's own span links the events it held.
    (batch_span,) = [s for s in finished if s.name == "store batch"]
    assert [link.context.span_id for link in batch_span.links] == [consumer.context.span_id]
    assert write.end_time >= by_name["validate"].end_time


def test_a_dead_lettered_event_shows_in_its_trace(spans):
    platform = Platform()
    publisher = TracedEventPublisher(platform.log, trace.get_tracer("test"), {"user-events"})
    publisher.publish("user-events", b"bob", b'{"event_id": "not json at all"')
    records = [r for p in range(3) for r in platform.log.read("user-events", p, 0, 10)]
    _run_dataflow(platform, records, BatchSpans(trace.get_tracer("test-dataflow")))

    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["validate"].status.status_code is StatusCode.ERROR
    assert by_name["validate"].attributes["error.type"] == "deserialize"
    assert by_name["db write"].attributes["db.collection.name"] == "failed_events"
    assert by_name["user-events process"].context.trace_id == by_name["user-events publish"].context.trace_id


def test_unsampled_and_foreign_records_cost_the_dataflow_nothing(spans, tracer_provider):
    unsampled = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
    sampled = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert sampled_context([(TRACEPARENT, unsampled)]) is None
    assert sampled_context([(TRACEPARENT, b"garbage")]) is None
    assert sampled_context([]) is None
    context = sampled_context([("other", b"x"), (TRACEPARENT, sampled)])
    assert trace.get_current_span(context).get_span_context().trace_id == 0x0AF7651916CD43DD8448EB211C80319C


def test_other_topics_pass_through_untraced(spans):
    platform = Platform()
    publisher = TracedEventPublisher(platform.log, trace.get_tracer("test"), {"user-events"})
    publisher.publish("user-analytics", b"k", b"{}")
    (record,) = [r for p in range(3) for r in platform.log.read("user-analytics", p, 0, 10)]
    assert record.headers == ()
    assert spans.get_finished_spans() == ()


def test_a_batch_is_traced_record_by_record_on_a_traced_topic_and_passes_through_elsewhere(spans):
    platform = Platform()
    publisher = TracedEventPublisher(platform.log, trace.get_tracer("test"), {"user-events"})
    refused = []
    for topic in ("user-events", "user-analytics"):
        publisher.publish_many(topic, [(b"ann", b"{}"), (b"bob", b"[]")], lambda i, why: refused.append(i))

    traced = [r for p in range(3) for r in platform.log.read("user-events", p, 0, 10)]
    plain = [r for p in range(3) for r in platform.log.read("user-analytics", p, 0, 10)]
    assert len(traced) == 2 and all(dict(r.headers).get(TRACEPARENT) for r in traced)
    assert len(plain) == 2 and all(r.headers == () for r in plain)
    assert [s.name for s in spans.get_finished_spans()] == ["user-events publish"] * 2
    assert refused == []


def test_log_records_carry_the_current_trace_and_span_ids(spans):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with trace.get_tracer("test").start_as_current_span("work") as span:
        TraceIds().filter(record)
    assert record.trace_id == format(span.get_span_context().trace_id, "032x")
    assert record.span_id == format(span.get_span_context().span_id, "016x")
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    TraceIds().filter(outside)
    assert not hasattr(outside, "trace_id")
