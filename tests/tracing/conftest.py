"""An in-memory span exporter on this process's tracer provider (installed once, sampling all)."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from entrypoints.settings import TracingSettings
from entrypoints.tracing import configure_tracing

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="session")
def tracer_provider() -> TracerProvider:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = configure_tracing("analytics-tests", TracingSettings(sample_ratio=1.0), 1.0)
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    return provider


@pytest.fixture
def spans(tracer_provider) -> InMemorySpanExporter:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()
