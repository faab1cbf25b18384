"""docker-compose.yml: valid Compose, and wired the way the platform and its monitoring expect."""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from adapters.embedded.postgres import WRITE_HEAVY_SETTINGS
from tests.deploy.support import COMPOSE_FILE, REPO, compose, run

APP_SERVICES = ("migrate", "processor", "api", "generator")
SERVICES = {"kafka", "postgres", "redis", "jaeger", "prometheus", "grafana", *APP_SERVICES}
SERVICE_NAMES = {"api": "analytics-api", "processor": "analytics-processor", "generator": "analytics-generator"}


@pytest.fixture(scope="module")
def compose_schema() -> Draft202012Validator:
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return Draft202012Validator(json.loads(vendored.read_text()))


def _errors(validator: Draft202012Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def test_the_compose_file_follows_the_compose_specification(compose_schema):
    assert _errors(compose_schema, compose()) == []


def test_the_schema_rejects_what_compose_would(compose_schema):
    # The check has teeth: a misspelt key and a malformed depends_on condition fail.
    assert _errors(compose_schema, {"services": {"api": {"imagee": "x"}}})
    bad_condition = {"services": {"api": {"image": "x", "depends_on": {"db": {"condition": "healthy"}}}}}
    assert _errors(compose_schema, bad_condition)


def test_every_service_is_there():
    assert SERVICES <= set(compose()["services"])


def test_app_services_run_one_image_built_here():
    services = compose()["services"]
    assert {services[name]["image"] for name in APP_SERVICES} == {"user-analytics:local"}
    assert {services[name]["build"] for name in APP_SERVICES} == {"."}


def test_images_are_pinned():
    for name, service in compose()["services"].items():
        if "build" in service:
            continue
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"


@pytest.mark.parametrize("name", sorted(SERVICE_NAMES))
def test_app_services_export_traces_to_jaeger_under_their_own_name(name):
    env = compose()["services"][name]["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
    assert env["OTEL_SERVICE_NAME"] == SERVICE_NAMES[name]


def test_metrics_ports_redis_and_partitions_are_configured():
    services = compose()["services"]
    assert services["api"]["environment"]["ANALYTICS_REDIS_URL"] == "redis://redis:6379/0"
    assert services["processor"]["environment"]["ANALYTICS_PROCESSOR_METRICS_PORT"] == "9100"
    assert services["generator"]["environment"]["ANALYTICS_PRODUCER_METRICS_PORT"] == "9200"
    assert services["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"] == 3
    for name in APP_SERVICES:
        assert services[name]["environment"]["ANALYTICS_KAFKA_PARTITIONS"] == "3"
    # One dataflow process per partition.
    command = services["processor"]["command"]
    assert command[command.index("--processes") + 1] == "3"


def test_postgres_runs_with_the_write_heavy_settings_of_the_embedded_server():
    command = compose()["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    assert {f"{name}={value}" for name, value in WRITE_HEAVY_SETTINGS.items()} <= set(command[1:])


def test_dependencies_wait_for_health_and_migrations():
    services = compose()["services"]
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["kafka"]["condition"] == deps["postgres"]["condition"] == "service_healthy", name
        if name != "migrate":
            assert deps["migrate"]["condition"] == "service_completed_successfully", name
    assert services["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # A service_healthy condition on a service without a healthcheck would never be met.
    for name, service in services.items():
        for target, dep in service.get("depends_on", {}).items():
            if dep["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}, which has no healthcheck"


def test_mounted_configuration_exists():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_dir(), f"{name} mounts {source}, which does not exist"
    prometheus_volumes = compose()["services"]["prometheus"]["volumes"]
    assert any(v.startswith("./deploy/prometheus:/etc/prometheus") for v in prometheus_volumes)


def _compose_plugin_reason() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return "no Docker Compose: the docker CLI is not installed"
    if run([docker, "compose", "version"]).returncode != 0:
        return "no Docker Compose: the docker CLI has no compose plugin (`docker compose config` needs no engine)"
    return None


def test_docker_compose_accepts_the_file(tmp_path):
    # `docker compose config` only reads files: the compose plugin suffices, no engine needed.
    reason = _compose_plugin_reason()
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "ANALYTICS_API_KEYS": "test-key:admin"}
    result = run(["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
