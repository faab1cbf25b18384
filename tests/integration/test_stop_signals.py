"""`analytics process` stops cleanly on SIGINT and on SIGTERM, even when it was started with
SIGINT ignored (what a non-interactive shell does to a background job: `analytics up &`); a
command that started embedded services stops them when it is stopped, never orphans them."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from adapters.child_processes import stop_child
from entrypoints.cli.common import analytics_argv
from tests.factories import event_doc
from tests.integration.platform import STOP_TIMEOUT, Database, analytics, platform_env, start_analytics
from tests.processes import alive


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_worker_started_with_sigint_ignored_still_stops_cleanly(kafka_bootstrap, database_url, tmp_path, stop_signal):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    log = tmp_path / "worker.log"
    with log.open("ab") as out:
        worker = subprocess.Popen(
            analytics_argv("process"),
            env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_ignore_sigint,
        )  # fmt: skip
    try:
        _store_one_event(env, database_url, tmp_path, worker, log)  # a stop now is a stop of a running flow
    finally:
        code = stop_child(worker, stop_signal, STOP_TIMEOUT)  # None: it had to be killed

    assert code == 0, f"exit {code}\n{log.read_text()[-2000:]}"
    assert "dataflow stopped by signal" in log.read_text()
    # Stopping saved the scorer's state of the user (not due for 30 s yet), whole: a restart reads it.
    current = (
        "SELECT count(*) FROM user_feature_states s JOIN users u USING (user_id) WHERE s.events_total = u.total_events"
    )
    assert Database(database_url).scalar(current) == 1


def _store_one_event(env: dict[str, str], database_url: str, tmp_path: Path, dataflow, log: Path) -> None:
    """Produce one event and wait until `dataflow` (running, or the test fails) has stored it."""
    doc = event_doc()
    (tmp_path / "one.jsonl").write_bytes(orjson.dumps(doc) + b"\n")
    assert analytics("produce", str(tmp_path / "one.jsonl"), env=env).returncode == 0
    db, deadline = Database(database_url), time.monotonic() + 120
    stored = f"SELECT count(*) FROM events WHERE event_id = '{doc['event_id']}'"
    while db.scalar(stored) == 0:
        assert dataflow.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)


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


def _has_all(commands: list[str], parts: tuple[str, ...]) -> bool:
    return all(any(part in c for c in commands) for part in parts)


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
        wanted = ("tansu", "postgres", "cli.main process ")  # broker, Postgres and the dataflow
        while not _has_all(running := _processes_marked(marker), wanted):
            assert bench.poll() is None and time.monotonic() < deadline, f"{running}\n{log.read_text()[-2000:]}"
            time.sleep(0.1)
    finally:
        if stop_child(bench, signal.SIGTERM, STOP_TIMEOUT) is None:
            pytest.fail(f"bench did not stop on SIGTERM\n{log.read_text()[-2000:]}")

    deadline = time.monotonic() + 30  # Postgres's last backends take a moment after the bench exits
    while (left := _processes_marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind: {left}\n{log.read_text()[-2000:]}"


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _wait_until_gone(pids: list[int], timeout: float = STOP_TIMEOUT) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(), reason="needs Linux /proc")
def test_cluster_members_stop_when_their_parent_is_killed_with_sigkill(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    log = tmp_path / "cluster.log"
    parent = start_analytics("process", "--processes", "2", env=env, log=log)
    try:
        _store_one_event(env, database_url, tmp_path, parent, log)  # the cluster runs
        members = _children(parent.pid)
        assert len(members) == 2
    finally:
        parent.kill()  # no chance to stop its members itself
        parent.wait()

    assert not _wait_until_gone(members), f"members outlived their parent\n{log.read_text()[-2000:]}"


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(), reason="needs Linux /proc")
def test_the_embedded_broker_stops_when_the_command_that_started_it_is_killed_with_sigkill(tmp_path):
    """The broker keeps its data in memory, so nothing would ever use an orphaned one again.
    (Embedded Postgres is different on purpose: it keeps its data on disk and the next command
    on the same data directory adopts a server that is still running.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env |= {"ANALYTICS_DATA_DIR": str(tmp_path / "data")}
    services = subprocess.Popen(
        analytics_argv("services"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert services.stdout.readline().startswith(b"ANALYTICS_KAFKA_BOOTSTRAP=")  # the broker runs
        [broker] = [p for p in _children(services.pid) if "tansu" in Path(f"/proc/{p}/cmdline").read_text()]
    finally:
        services.kill()
        services.wait()
        _stop_postgres(tmp_path / "data" / "embedded" / "postgres")  # left running on purpose: not this test's

    assert not _wait_until_gone([broker], timeout=30), "the broker outlived the command that started it"


def _stop_postgres(data_dir: Path) -> None:
    """Fast shutdown (SIGINT) of the server running on `data_dir`, if any."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    os.kill(postmaster, signal.SIGINT)
    _wait_until_gone([postmaster], timeout=30)


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(), reason="needs Linux /proc")
def test_what_analytics_up_started_stops_when_up_is_killed_with_sigkill(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker = f"TMPDIR={temp}"  # inherited by `up` and everything it starts
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    env |= {"ANALYTICS_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(temp)}
    log = tmp_path / "up.log"
    up = start_analytics("up", "--rate", "50", env=env, log=log)
    try:
        deadline = time.monotonic() + 180
        wanted = ("tansu", "cli.main process", "cli.main api")
        while not _has_all(running := _processes_marked(marker), wanted):
            assert up.poll() is None and time.monotonic() < deadline, f"{running}\n{log.read_text()[-2000:]}"
            time.sleep(0.2)
    finally:
        up.kill()
        up.wait()

    deadline = time.monotonic() + STOP_TIMEOUT
    while (left := [c for c in _processes_marked(marker) if "postgres" not in c]) and time.monotonic() < deadline:
        time.sleep(0.2)
    _stop_postgres(tmp_path / "data" / "embedded" / "postgres")
    assert not left, f"outlived `up`: {left}"
