"""`analytics process` stops cleanly on SIGINT and on SIGTERM, even when it was started with
SIGINT ignored (what a non-interactive shell does to a background job: `analytics up &`); a
command that started embedded services stops them when it is stopped, never orphans them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.factories import event_doc
from tests.integration.platform import STOP_TIMEOUT, Database, analytics, platform_env, start_analytics


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_worker_started_with_sigint_ignored_still_stops_cleanly(kafka_bootstrap, database_url, tmp_path, stop_signal):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli.main", "process"],
            env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_ignore_sigint,
        )  # fmt: skip
    try:
        doc = event_doc()
        (tmp_path / "one.jsonl").write_bytes(orjson.dumps(doc) + b"\n")
        assert analytics("produce", str(tmp_path / "one.jsonl"), env=env).returncode == 0
        db, deadline = Database(database_url), time.monotonic() + 120
        stored = f"SELECT count(*) FROM events WHERE event_id = '{doc['event_id']}'"
        while db.scalar(stored) == 0:  # the dataflow runs: a stop now is a stop of a running flow
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
    finally:
        worker.send_signal(stop_signal)
        try:
            code = worker.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            code = None

    assert code == 0, f"exit {code}\n{log.read_text()[-2000:]}"
    assert "dataflow stopped by signal" in log.read_text()


def _processes_marked(marker: str) -> list[str]:
    """Every process of ours whose environment holds `marker`: a command and all it started (the
    embedded broker runs in a session of its own, so a process group would miss it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to find the processes a command left")
def test_a_bench_stopped_by_sigterm_leaves_no_broker_postgres_or_dataflow_behind(tmp_path):
    temp = tmp_path / "tmp"  # the bench's own temporary directory (its dataflow's data) goes here
    temp.mkdir()
    marker = f"TMPDIR={temp}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}  # embedded services
    env |= {"ANALYTICS_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(temp)}
    log = tmp_path / "bench.log"
    bench = start_analytics(
        "bench", "--events", "300000", "--no-scoring", "--latency-rates", "", "--baseline-events", "0",
        env=env, log=log,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while not list(temp.glob("analytics-bench-*/dataflow-*.log")):  # broker, Postgres and dataflow run
            assert bench.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        running = _processes_marked(marker)
        assert any("tansu" in p for p in running) and any("postgres" in p for p in running), running
        assert any(" process " in p for p in running), running
    finally:
        bench.send_signal(signal.SIGTERM)
        try:
            bench.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            bench.kill()
            bench.wait()
            pytest.fail(f"bench did not stop on SIGTERM\n{log.read_text()[-2000:]}")

    deadline = time.monotonic() + 30  # Postgres's last backends take a moment after the bench exits
    while (left := _processes_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind: {left}\n{log.read_text()[-2000:]}"
