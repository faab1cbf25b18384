"""For tests that start real processes: waiting on them, reading their logs, telling what still runs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil


def wait_until(
    condition: Callable[[], object], *, timeout: float, what: str, context: Callable[[], str] = str, every: float = 0.1
) -> object:
    """The condition's first truthy result, polled every `every` s; AssertionError naming `what`,
    with `context()` (logs, say), if none comes within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}\n{context()}")
        time.sleep(every)
    return result


def log_tails(*logs: Path, chars: int = 3000) -> str:
    """The end of each log, headed by its name, for an assertion's message."""
    parts = []
    for log in logs:
        text = log.read_text(errors="replace") if log.exists() else "(no log)"
        parts.append(f"--- {log.name} ---\n{text[-chars:]}")
    return "\n".join(parts)


def alive(pid: int) -> bool:
    """Running, not merely a zombie nobody reaped yet (an orphan's new parent may never reap)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children's children included; none once it is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_leftovers(pids: list[int]) -> list[int]:
    """Kill those of `pids` still running; the ones that were."""
    running = [pid for pid in pids if alive(pid)]
    for pid in running:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            continue
    return running


def command_line(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
