"""`analytics bench`: the dataflow it measures, run as `analytics process` in a child process.

The child's log goes to a file in the bench's data directory, never to a pipe nobody reads
while it runs: a chatty run (debug logs, many dead letters) would fill the pipe and stall the
very dataflow being timed. Its tail is what a failure reports.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from adapters.child_processes import stop_child, stop_with_parent
from entrypoints.cli.common import analytics_argv


def start_dataflow(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`analytics process ARGS`, logging to `log_path`."""
    with log_path.open("ab") as log:  # the child keeps its own handle
        return subprocess.Popen(
            analytics_argv("process", *args),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            preexec_fn=stop_with_parent(),
        )


def stop_dataflow(child: subprocess.Popen, timeout: float = 30.0) -> None:
    """Stop the child as Ctrl-C does (it commits what it has), killing it if it does not stop in
    `timeout` seconds; nothing if it has exited. A bench that stops early leaves no dataflow behind."""
    stop_child(child, signal.SIGINT, timeout)


def log_tail(log_path: Path, chars: int = 2000) -> str:
    try:
        return log_path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return ""
