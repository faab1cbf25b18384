"""The image: non-root, built from the sources the wheel needs, exposing the ports compose uses."""

from __future__ import annotations

from tests.deploy.support import REPO, compose

DOCKERFILE = (REPO / "Dockerfile").read_text().splitlines()


def _final_stage() -> list[str]:
    starts = [i for i, line in enumerate(DOCKERFILE) if line.startswith("FROM ")]
    assert len(starts) >= 2, "multi-stage build expected"
    return DOCKERFILE[starts[-1] :]


def test_the_runtime_stage_runs_as_uid_10001():
    stage = _final_stage()
    assert any("useradd" in line and "--uid 10001" in line for line in stage)
    assert [line for line in stage if line.startswith("USER ")] == ["USER analytics"]


def test_exposed_ports_cover_the_api_and_every_metrics_port():
    (expose,) = [line for line in _final_stage() if line.startswith("EXPOSE ")]
    ports = {int(p) for p in expose.split()[1:]}
    services = compose()["services"]
    command = services["processor"]["command"]
    processes = int(command[command.index("--processes") + 1])
    base = int(services["processor"]["environment"]["ANALYTICS_PROCESSOR_METRICS_PORT"])
    producer = int(services["generator"]["environment"]["ANALYTICS_PRODUCER_METRICS_PORT"])
    assert {8000, producer, *range(base, base + processes)} <= ports


def test_the_build_context_keeps_what_the_wheel_needs():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    copies = [line.split()[1:-1] for line in DOCKERFILE if line.startswith("COPY ") and "--from" not in line]
    copied = {source for sources in copies for source in sources}
    # pyproject.toml, README.md (its readme) and every package, static files included.
    assert {"pyproject.toml", "README.md", "entrypoints"} <= copied
    assert not ignored & (copied | {"entrypoints/api/static"})
    assert {".venv", ".analytics", ".git", "tests"} <= ignored
