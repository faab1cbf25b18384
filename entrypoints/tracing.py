"""OpenTelemetry set-up: one tracer provider per process, exported over OTLP when configured.

Unset `OTEL_EXPORTER_OTLP_ENDPOINT` means tracing is on (trace context still travels in
Kafka's `traceparent` headers, so a downstream process can export what this one does not)
but spans are exported nowhere. Sampling is parent-based: a process that starts traces (the
API, the generator) samples a ratio of them; the dataflow follows the producer's decision.
"""

from __future__ import annotations

import atexit
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from entrypoints.settings import VERSION, TracingSettings

_configured: TracerProvider | None = None


def configure_tracing(
    service: str, settings: TracingSettings, default_ratio: float, *, processor: SpanProcessor | None = None
) -> TracerProvider:
    """Install this process's tracer provider (once; later calls return the first one).

    `processor` replaces the OTLP exporter (tests pass an in-memory one)."""
    global _configured
    if _configured is not None:
        return _configured
    ratio = settings.sample_ratio if settings.sample_ratio is not None else default_ratio
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", service), "service.version": VERSION}
        ),
        sampler=ParentBased(TraceIdRatioBased(ratio)),
    )
    if processor is not None:
        provider.add_span_processor(processor)
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # The exporter reads the endpoint (plus /v1/traces), headers and timeout from OTEL_* itself.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    atexit.register(provider.shutdown)  # flush the batch exporter on the way out
    _configured = provider
    return provider
