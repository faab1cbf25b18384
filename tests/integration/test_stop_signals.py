"""`analytics process` stops cleanly on SIGINT and on SIGTERM, even when it was started with
SIGINT ignored (what a non-interactive shell does to a background job: `analytics up &`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
import pytest

from tests.factories import event_doc
from tests.integration.platform import STOP_TIMEOUT, Database, analytics, platform_env


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
