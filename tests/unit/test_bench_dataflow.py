"""The bench's dataflow child logs to a file (a pipe nobody reads could stall it), whose tail a
failure reports."""

from __future__ import annotations

import os

from entrypoints.bench.dataflow import log_tail, start_dataflow


def test_what_the_child_writes_lands_in_its_log_file_and_its_tail_explains_a_failure(tmp_path):
    log_path = tmp_path / "dataflow.log"

    child = start_dataflow(["--no-such-option"], dict(os.environ), log_path)

    assert child.wait(timeout=60) != 0
    assert "No such option" in log_tail(log_path)
    assert log_tail(log_path, chars=10) == log_path.read_text()[-10:]


def test_a_missing_log_has_an_empty_tail(tmp_path):
    assert log_tail(tmp_path / "never-written.log") == ""
