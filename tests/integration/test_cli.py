"""The `analytics` command line as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import timedelta

import pytest

from entrypoints.bench.cpu import MIN_WINDOW_S
from entrypoints.cli.common import analytics_argv
from tests.integration.platform import MALFORMED, Database, analytics, platform_env

pytestmark = pytest.mark.integration

COMMANDS = [
    "up", "services", "migrate", "generate", "produce", "process", "bench", "api", "replay", "dlq replay",
    "train churn", "train anomaly", "evaluate",
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(command):
    result = analytics(*command.split(), "--help", env={})
    assert result.returncode == 0, result.stderr.decode()
    assert "Usage: " in result.stdout.decode() and command in result.stdout.decode()


def _bare_env(tmp_path) -> dict[str, str]:
    """No service addresses: the command must start the embedded ones itself."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ANALYTICS_")}
    return {**env, "ANALYTICS_DATA_DIR": str(tmp_path / "data")}


def test_up_with_exit_when_done_stores_every_event_and_prints_a_summary(tmp_path):
    result = analytics("up", "--events", "3000", "--exit-when-done", env=_bare_env(tmp_path), timeout=180)

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    summary = json.loads(result.stdout.decode().strip().splitlines()[-1])
    assert summary["events"] == 3000
    assert summary["persisted"] + summary["failed"] == 3000
    assert summary["seconds"] > 0


def test_services_prints_addresses_that_other_commands_use(tmp_path):
    env = _bare_env(tmp_path)
    services = subprocess.Popen(
        analytics_argv("services"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        lines = dict(services.stdout.readline().decode().strip().split("=", 1) for _ in range(2))
        assert set(lines) == {"ANALYTICS_KAFKA_BOOTSTRAP", "ANALYTICS_DATABASE_URL"}
        attached = {**env, **lines}
        assert analytics("generate", "--count", "800", "--seed", "3", env=attached).returncode == 0
        assert analytics("process", "--until-caught-up", env=attached).returncode == 0
        db = Database(lines["ANALYTICS_DATABASE_URL"])
        assert db.scalar("SELECT count(*) FROM events") == 800
        # Generated as fast as possible, the traffic is a backlog that ended at once: each event
        # arrived when it happened, so none is late, and none is ahead of its arrival and clamped.
        assert db.scalar("SELECT count(*) FROM events WHERE late OR future_clamped") == 0
        assert db.scalar("SELECT max(received_at - event_time) FROM events") <= timedelta(seconds=5)  # client delay
    finally:
        services.send_signal(signal.SIGTERM)
        assert services.wait(timeout=30) == 0


def test_produce_sends_good_lines_and_bad_lines_end_as_dead_letters(kafka_bootstrap, database_url, tmp_path):
    env = platform_env(kafka_bootstrap, database_url, tmp_path)
    good = analytics("generate", "--count", "200", "--seed", "5", "--stdout", env=env).stdout.splitlines()
    lines = good[:100] + MALFORMED + good[100:]
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    produced = analytics("produce", str(tmp_path / "events.jsonl"), env=env)
    assert produced.returncode == 0, produced.stderr.decode()[-2000:]
    assert analytics("process", "--until-caught-up", env=env).returncode == 0

    db = Database(database_url)
    assert db.scalar("SELECT count(*) FROM events") == 200
    assert db.scalar("SELECT count(*) FROM failed_events") == len(MALFORMED)


def test_generate_to_stdout_is_reproducible_with_a_seed():
    first = analytics("generate", "--count", "50", "--seed", "42", "--stdout", env={})
    again = analytics("generate", "--count", "50", "--seed", "42", "--stdout", env={})
    assert first.returncode == 0 and len(first.stdout.splitlines()) == 50

    # timestamps start at "now", so compare everything else
    def strip(out):
        docs = (json.loads(line) for line in out.splitlines())
        return [{k: v for k, v in doc.items() if k not in ("timestamp", "sent_at")} for doc in docs]

    assert strip(first.stdout) == strip(again.stdout)


@pytest.mark.bench
def test_bench_runs_and_reports_its_figures(kafka_bootstrap, postgres_server, tmp_path):
    url = postgres_server.create_database("bench_smoke")
    env = platform_env(kafka_bootstrap, url, tmp_path)
    report_path = tmp_path / "bench.json"

    result = analytics(
        "bench", "--events", "5000", "--api", "--api-requests", "40", "--json", str(report_path),
        "--latency-rates", "300,1500", "--latency-seconds", "2", "--baseline-events", "500", env=env, timeout=400,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr.decode()[-3000:]
    report = json.loads(report_path.read_text())
    assert report["events"] == 5000 and report["persisted"] == 5000
    assert report["ingest_events_per_s"] > 0
    timeline = report["timeline"]  # (seconds since the dataflow started, events committed), ending at all of them
    assert timeline[-1][1] == 5000
    assert [at for at, _ in timeline] == sorted(at for at, _ in timeline)
    assert [n for _, n in timeline] == sorted(n for _, n in timeline)
    reference = report["machine"]["cpu_reference_s"]  # the host's speed, before and after, to compare runs by
    assert reference["before"] > 0 and reference["after"] > 0
    assert [run["offered_events_per_s"] for run in report["latency_runs"]] == [300, 1500]
    assert [run["events"] for run in report["latency_runs"]] == [600, 3000]
    # Where the CPU went, by component, over the steady ingest and over each latency run. 5,000
    # events may all commit at once, leaving the steady ingest no window long enough to measure.
    measured = [run["cpu_cores"] for run in report["latency_runs"]]
    steady_window = report["ingest_seconds"] - report["startup_seconds"]  # the meter's, within milliseconds
    if steady_window > MIN_WINDOW_S + 0.1:
        measured.append(report["cpu_cores"])
    elif steady_window < MIN_WINDOW_S - 0.1:
        assert report["cpu_cores"] == {}
    for cores in measured:
        assert {"dataflow", "postgres", "broker", "bench", "machine"} <= cores.keys()
        assert cores["dataflow"] > 0 and cores["machine"] > 0
    for run in report["latency_runs"]:  # the writers' transactions, read from the workers' metrics
        writers = run["writers"]
        assert writers["transactions_per_s"] > 0 and writers["events_per_transaction"] >= 1
        assert writers["transaction_ms"] > 0 and 0 < writers["busy"] <= 1
        assert writers["read_to_commit_ms"] >= writers["transaction_ms"]  # each waited for its transaction
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p95"] <= report["latency_ms"]["p99"]
    assert report["baseline"]["events"] == 500 and report["baseline"]["events_per_s"] > 0
    assert report["speedup_vs_baseline"] == pytest.approx(  # the report rounds it to one decimal
        report["steady_events_per_s"] / report["baseline"]["events_per_s"], abs=0.05 + 1e-9
    )
    api = report["api"]
    assert api["get_user"]["requests"] == 40 and api["get_user"]["p99_ms"] > 0
    assert api["post_events_per_s"] > 0
