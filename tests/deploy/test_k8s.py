"""Kubernetes manifests: every overlay builds, and what it renders runs as intended (non-root,
probes, resources, one image, one dataflow pod with a process per partition)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml

from tests.deploy.support import K8S_DIR, load_yaml, load_yaml_documents, run

OVERLAYS = ("staging", "production")
NAMESPACE = "user-analytics"
WORKLOADS = {"Deployment", "StatefulSet", "Job"}


def _kustomizations():
    return sorted(K8S_DIR.rglob("kustomization.yaml"))


@pytest.mark.parametrize("path", _kustomizations(), ids=lambda p: str(p.parent.relative_to(K8S_DIR)))
def test_kustomization_references_exist(path):
    kustomization = load_yaml(path)
    entries = kustomization.get("resources", []) + [p["path"] for p in kustomization.get("patches", [])]
    assert entries
    for entry in entries:
        assert (path.parent / entry).exists(), f"{path}: {entry} is missing"


def test_every_manifest_parses_and_names_its_kind():
    for path in K8S_DIR.rglob("*.yaml"):
        for doc in load_yaml_documents(path):
            assert doc.get("kind") and doc.get("apiVersion"), path


def test_the_secret_is_an_example_only():
    # Applying a placeholder Secret would overwrite the real one created with kubectl.
    for path in _kustomizations():
        assert "secret.example.yaml" not in load_yaml(path).get("resources", [])
    (secret,) = load_yaml_documents(K8S_DIR / "base" / "secret.example.yaml")
    assert set(secret["stringData"].values()) == {""}


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl: overlays not rendered (kubectl kustomize needs no cluster)")
    result = run([kubectl, "kustomize", str(K8S_DIR / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _by_kind_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_workloads_are_namespaced_non_root_and_bounded(overlay):
    docs = _render(overlay)
    images = set()
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] != "Namespace":
            assert meta["namespace"] == NAMESPACE, meta["name"]
        assert meta["labels"]["app.kubernetes.io/part-of"] == "user-analytics", meta["name"]
        if doc["kind"] not in WORKLOADS:
            continue
        pod = _pod(doc)
        security = pod["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001, meta["name"]
        ports = set()
        for container in pod["spec"]["containers"]:
            images.add(container["image"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, meta["name"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), meta["name"]
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), meta["name"]
            ports |= {p["containerPort"] for p in container.get("ports", [])}
            refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
            assert refs == ["analytics-config", "analytics-secrets"], meta["name"]
        annotations = pod["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            assert int(annotations["prometheus.io/port"]) in ports, meta["name"]
    # The overlay names the image: one, from a registry, pinned.
    (image,) = images
    assert "/" in image and ":" in image.rsplit("/", 1)[1], image


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_has_probes_and_replicas(overlay):
    api = _by_kind_name(_render(overlay))[("Deployment", "api")]
    assert api["spec"]["replicas"] >= 2
    (container,) = _pod(api)["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    service = _by_kind_name(_render(overlay))[("Service", "api")]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_dataflow_pod_runs_a_process_per_partition(overlay):
    docs = _by_kind_name(_render(overlay))
    processor = docs[("StatefulSet", "processor")]
    assert processor["spec"]["replicas"] == 1  # one pod is one Bytewax cluster
    partitions = int(docs[("ConfigMap", "analytics-config")]["data"]["ANALYTICS_KAFKA_PARTITIONS"])
    (container,) = _pod(processor)["spec"]["containers"]
    args = container["args"]
    assert int(args[args.index("--processes") + 1]) == partitions
    env = {e["name"]: e["value"] for e in container["env"]}
    base = int(env["ANALYTICS_PROCESSOR_METRICS_PORT"])
    assert [p["containerPort"] for p in container["ports"]] == [base + i for i in range(partitions)]
    assert processor["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


def test_only_staging_runs_the_generator_and_production_has_more_api():
    staging, production = (_by_kind_name(_render(o)) for o in OVERLAYS)
    assert ("Deployment", "generator") in staging
    assert ("Deployment", "generator") not in production
    api = ("Deployment", "api")
    assert production[api]["spec"]["replicas"] > staging[api]["spec"]["replicas"]
