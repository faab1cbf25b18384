"""Paths and tools shared by the deployment tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = REPO / "docker-compose.yml"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARDS_DIR = DEPLOY / "grafana" / "dashboards"
K8S_DIR = DEPLOY / "k8s"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


def promtool() -> str:
    """promtool on PATH, else the one `make test` unpacks from Debian's package; skip without."""
    found = shutil.which("promtool")
    if found:
        return found
    unpacked = REPO / ".analytics" / "tools" / "prometheus" / "usr" / "bin" / "promtool"
    if unpacked.is_file():
        return str(unpacked)
    pytest.skip("no promtool: not on PATH and not unpacked by scripts/install-test-tools")


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, **kwargs)
