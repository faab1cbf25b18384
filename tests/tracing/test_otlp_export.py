"""Real processes export their spans over OTLP/HTTP: the API and the dataflow, one trace."""

from __future__ import annotations

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from adapters.loopback import free_port
from tests.factories import event_doc
from tests.integration.platform import STOP_TIMEOUT, platform_env, start_analytics

pytestmark = pytest.mark.integration


class _Receiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver: protobuf posts to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, bytes, bytes]] = []  # (service, name, trace id, parent span id)
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.paths.append(self.path)
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.server.spans.append(
                        (attributes["service.name"], span.name, span.trace_id, span.parent_span_id)
                    )
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


def test_one_trace_id_connects_the_api_request_the_kafka_message_and_the_database_write(
    kafka_bootstrap, database_url, tmp_path
):
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    env = platform_env(
        kafka_bootstrap,
        database_url,
        tmp_path,
        ANALYTICS_API_KEYS="ingest-key:ingest",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.server_port}",
        OTEL_BSP_SCHEDULE_DELAY="200",
    )
    worker = start_analytics("process", env=env, log=tmp_path / "worker.log")
    api = start_analytics("api", "--port", str(port), env=env, log=tmp_path / "api.log")
    try:
        doc = event_doc("purchase", user_id="traced-user", value="42.00")
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/v1/events",
                    content=orjson.dumps(doc),
                    headers={"X-API-Key": "ingest-key", "Content-Type": "application/json"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()[-3000:]
                time.sleep(0.3)
        assert response.status_code == 202, response.text

        def services_of(trace_id: bytes) -> dict[str, set[str]]:
            names: dict[str, set[str]] = {}
            for service, name, tid, _ in list(receiver.spans):
                if tid == trace_id:
                    names.setdefault(service, set()).add(name)
            return names

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            producers = [s for s in list(receiver.spans) if s[1].endswith(" publish") and s[0] == "analytics-api"]
            if producers and "db write" in services_of(producers[0][2]).get("analytics-processor", set()):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(
                f"spans: {receiver.spans[:20]}\nworker log: {(tmp_path / 'worker.log').read_text()[-2000:]}"
            )
    finally:
        api.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGINT)
        api.wait(timeout=STOP_TIMEOUT)
        worker.wait(timeout=STOP_TIMEOUT)
        receiver.shutdown()

    trace_id = producers[0][2]
    names = services_of(trace_id)
    assert any(name.startswith("POST /v1/events") for name in names["analytics-api"]), names
    topic = env["ANALYTICS_KAFKA_EVENTS_TOPIC"]
    assert f"{topic} publish" in names["analytics-api"], names
    assert {f"{topic} process", "validate", "score", "db write"} <= names["analytics-processor"], names
    assert set(receiver.paths) == {"/v1/traces"}
