"""The metrics an operator scrapes, from real processes: `analytics up`'s one /metrics with
every sibling's families, and a real Prometheus scraping an API and a worker."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.child_processes import stop_child
from adapters.loopback import free_port
from entrypoints.metrics_catalog import exported_metric_names
from tests.factories import event_doc
from tests.integration.platform import STOP_TIMEOUT, Database, analytics, platform_env, start_analytics
from tests.processes import alive, command_line, descendants, kill_leftovers, log_tails, port_open, wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY = "metrics-admin"
HEADERS = {"X-API-Key": KEY}

# Families `analytics up`'s API must show with at least one sample above zero.
NONZERO_FAMILIES = (
    "analytics_events_processed_total",
    "analytics_end_to_end_latency_seconds_count",
    "analytics_batch_processing_seconds_count",
    "analytics_db_write_seconds_count",
    "analytics_batch_events_count",
    "analytics_committed_offset",
    "analytics_log_end_offset",
    "analytics_api_requests_total",
    "analytics_api_request_duration_seconds_count",
    # One bad line goes through `analytics produce`, so the worker dead-letters it: non-zero.
    # (POST /v1/events would not do: the API dead-letters invalid bodies itself, in Postgres.)
    "analytics_events_dead_lettered_total",
)
PRODUCER_FAMILIES = ("analytics_events_produced_total", "analytics_events_delivered_total")
# Present; their value may be 0 (the lag is 0 once the worker has caught up).
PRESENT_FAMILIES = ("analytics_consumer_lag", "analytics_events_dead_lettered_total")


def _get(url: str, **kwargs) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=3, **kwargs)
    except httpx.HTTPError:
        return None


def _samples(body: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)], over every family of that name: `up`'s API shows the
    producer totals twice, its own family (`source="api"`) and its siblings' one."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[sample.name].append((sample.labels, sample.value))
    return samples


def _family_names(body: str) -> set[str]:
    """Every family's name and sample names, `x_total` for counters: families without samples count."""
    names = set()
    for family in text_string_to_metric_families(body):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
    return names


def _missing(body: str) -> list[str]:
    """What the `up` API's /metrics still lacks, in words."""
    samples, names = _samples(body), _family_names(body)
    missing = [name for name in NONZERO_FAMILIES if not any(value > 0 for _, value in samples.get(name, []))]
    for name in PRODUCER_FAMILIES:
        for source in ("generator", "api"):
            if not any(labels.get("source") == source and value > 0 for labels, value in samples.get(name, [])):
                missing.append(f"{name}{{source={source!r}}}")
    missing += [f"{name} (family)" for name in PRESENT_FAMILIES if name not in names]
    return missing


@pytest.mark.timeout(150)
def test_make_run_metrics_show_every_family_with_values(kafka_bootstrap, database_url, tmp_path):
    # `up` uses the configured broker and Postgres when they are set (LocalServices starts
    # embedded ones only for missing addresses), so it runs on the session's, on a topic of its own.
    port = free_port()
    data_dir = tmp_path / "data"
    env = platform_env(kafka_bootstrap, database_url, data_dir, ANALYTICS_API_KEYS=f"{KEY}:admin")
    up_log = tmp_path / "up.log"
    child_logs = (data_dir / "logs" / "processor.log", data_dir / "logs" / "api.log")

    def logs() -> str:
        return log_tails(up_log, *child_logs)

    base = f"http://127.0.0.1:{port}"
    db = Database(database_url)
    up = start_analytics("up", "--events", "3000", "--rate", "1500", "--port", str(port), env=env, log=up_log)
    try:
        api_child: list[psutil.Process] = []

        def api_ready() -> bool:
            assert up.poll() is None, f"`analytics up` exited ({up.returncode})\n{logs()}"
            # `up` does not watch its API child: notice ourselves when it dies, rather than time out.
            if not api_child:
                api_child.extend(c for c in psutil.Process(up.pid).children() if "api" in command_line(c))
            assert not api_child or alive(api_child[0].pid), f"`up`'s API process died\n{logs()}"
            response = _get(f"{base}/health")
            return response is not None and response.status_code == 200

        wait_until(api_ready, timeout=60, what="the API answering /health", context=logs, every=0.3)

        wait_until(
            lambda: db.scalar("SELECT count(*) FROM events") >= 3000,
            timeout=60, what="3000 generated events stored", context=logs, every=0.3,
        )  # fmt: skip

        # One malformed record through the log: the worker dead-letters it.
        bad = tmp_path / "bad.jsonl"
        bad.write_bytes(b'{"event_id": "not a uuid", "oops": \n')
        produced = analytics("produce", str(bad), env=env, timeout=60)
        assert produced.returncode == 0, produced.stderr.decode()[-2000:]
        wait_until(
            lambda: db.scalar("SELECT count(*) FROM failed_events") >= 1,
            timeout=30, what="the bad line dead-lettered", context=logs, every=0.3,
        )  # fmt: skip

        # One valid event through the API: its own producer totals move.
        doc = event_doc(user_id="metrics_user", timestamp=datetime.now(UTC).isoformat())
        posted = httpx.post(f"{base}/v1/events", json=doc, headers=HEADERS, timeout=10)
        assert posted.status_code == 202 and posted.json()["accepted"] == 1, posted.text

        def complete_metrics() -> str | None:
            response = _get(f"{base}/metrics")  # no key: /metrics is open
            if response is None or response.status_code != 200:
                return None
            return None if _missing(response.text) else response.text

        deadline = time.monotonic() + 30
        body = None
        while body is None and time.monotonic() < deadline:
            body = complete_metrics()
            time.sleep(0.5)
        if body is None:
            last = _get(f"{base}/metrics")
            text = last.text if last is not None else "(no answer)"
            raise AssertionError(f"missing from the API's /metrics: {_missing(text)}\n{text[-4000:]}\n{logs()}")
    finally:
        children = descendants(up.pid)
        code = stop_child(up, signal.SIGINT, STOP_TIMEOUT)
        leftovers = kill_leftovers(children)

    assert code == 0, f"`analytics up` after SIGINT: {code if code is not None else 'killed on timeout'}\n{logs()}"
    assert not leftovers, f"`up` left its children running: {leftovers}\n{logs()}"
    assert not port_open(port), "the API still listens after `up` stopped"

    samples = _samples(body)
    # Every stored event is counted once, the POSTed one included (it may still be in flight).
    processed = sum(value for _, value in samples["analytics_events_processed_total"])
    assert 3000 <= processed <= 3001
    # The generator delivered all 3000 events and the API the one it was given.
    delivered = {labels["source"]: value for labels, value in samples["analytics_events_delivered_total"]}
    assert delivered["generator"] == 3000 and delivered["api"] == 1, delivered
    dead = {labels["error_type"]: value for labels, value in samples["analytics_events_dead_lettered_total"]}
    assert sum(dead.values()) == 1, dead


def _prometheus_binary() -> str | None:
    local = REPO / ".analytics" / "tools" / "prometheus" / "usr" / "bin" / "prometheus"
    return shutil.which("prometheus") or (str(local) if local.is_file() else None)


def _query(prometheus: str, expr: str) -> list[dict]:
    response = _get(f"{prometheus}/api/v1/query", params={"query": expr})
    if response is None or response.status_code != 200:
        return []
    return response.json()["data"]["result"]


@pytest.mark.timeout(150)
def test_real_prometheus_scrapes_the_api_and_a_worker(kafka_bootstrap, database_url, tmp_path):
    binary = _prometheus_binary()
    if binary is None:
        pytest.skip("no prometheus binary on PATH nor under .analytics/tools (make test unpacks Debian's there)")
    worker_port, api_port, prometheus_port = free_port(), free_port(), free_port()
    env = platform_env(
        kafka_bootstrap,
        database_url,
        tmp_path / "data",
        ANALYTICS_PROCESSOR_METRICS_PORT=str(worker_port),
        ANALYTICS_API_KEYS=f"{KEY}:admin",
    )
    worker_log, api_log, prometheus_log = tmp_path / "worker.log", tmp_path / "api.log", tmp_path / "prometheus.log"

    def logs() -> str:
        return log_tails(worker_log, api_log, prometheus_log)

    api_base, prometheus = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prometheus_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": "api", "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]},
                    {"job_name": "processor", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]},
                ],
            }
        )
    )
    processes: list[tuple[subprocess.Popen, signal.Signals]] = []
    try:
        processes.append((start_analytics("process", env=env, log=worker_log), signal.SIGINT))
        processes.append((start_analytics("api", "--port", str(api_port), env=env, log=api_log), signal.SIGTERM))
        generated = analytics("generate", "--count", "3000", "--seed", "21", env=env, timeout=60)
        assert generated.returncode == 0, generated.stderr.decode()[-2000:]

        def api_ready() -> bool:
            for process, _ in processes:
                assert process.poll() is None, f"{process.args} exited ({process.returncode})\n{logs()}"
            response = _get(f"{api_base}/health")
            return response is not None and response.status_code == 200

        wait_until(api_ready, timeout=60, what="the API answering /health", context=logs, every=0.3)
        # Requests of its own, so the API's request metrics have samples whatever Prometheus does.
        doc = event_doc(user_id="scraped_user", timestamp=datetime.now(UTC).isoformat())
        posted = httpx.post(f"{api_base}/v1/events", json=doc, headers=HEADERS, timeout=10)
        assert posted.status_code == 202, posted.text
        listed = httpx.get(f"{api_base}/v1/events", params={"limit": 5}, headers=HEADERS, timeout=10)
        assert listed.status_code == 200, listed.text

        with prometheus_log.open("ab") as out:
            processes.append(
                (
                    subprocess.Popen(
                        [
                            binary,
                            f"--config.file={config}",
                            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                            f"--web.listen-address=127.0.0.1:{prometheus_port}",
                        ],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    ),
                    signal.SIGTERM,
                )
            )

        def up(job: str) -> bool:
            return any(r["value"][1] == "1" for r in _query(prometheus, f'up{{job="{job}"}} == 1'))

        def scraped() -> bool:
            for process, _ in processes:
                assert process.poll() is None, f"{process.args} exited ({process.returncode})\n{logs()}"
            return (
                up("api")
                and up("processor")
                and bool(_query(prometheus, "sum(analytics_events_processed_total) > 0"))
                and bool(_query(prometheus, "analytics_api_requests_total"))
            )

        def state() -> str:
            targets = _get(f"{prometheus}/api/v1/targets")
            return f"targets: {targets.text[-3000:] if targets is not None else '(no answer)'}\n{logs()}"

        what = "Prometheus scraping both targets with the project's series"
        wait_until(scraped, timeout=60, what=what, context=state, every=0.3)

        catalog = exported_metric_names()
        expected = {
            "analytics_events_processed_total",
            "analytics_end_to_end_latency_seconds_bucket",
            "analytics_consumer_lag",
            "analytics_committed_offset",
            "analytics_db_write_seconds_bucket",
            "analytics_api_requests_total",
            "analytics_api_request_duration_seconds_bucket",
        }
        assert expected <= catalog, f"not in the catalog dashboards use: {expected - catalog}"

        def stored_names() -> set[str]:
            response = _get(f"{prometheus}/api/v1/label/__name__/values")
            return set(response.json()["data"]) if response is not None and response.status_code == 200 else set()

        names = wait_until(
            lambda: (n := stored_names()) >= expected and n,
            timeout=15,
            what="every expected series stored",
            context=state,
        )
        assert expected <= names, f"not stored by Prometheus: {expected - names}"
        # Both targets' series carry their job.
        assert _query(prometheus, 'analytics_events_processed_total{job="processor"}')
        assert _query(prometheus, 'analytics_api_request_duration_seconds_bucket{job="api"}')
        assert sum(float(r["value"][1]) for r in _query(prometheus, "analytics_events_processed_total")) <= 3001
    finally:
        for process, stop_signal in reversed(processes):
            stop_child(process, stop_signal, timeout=30)
