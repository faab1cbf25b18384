"""Children that stop when the process that started them dies, even by `kill -9`.

A command that starts helpers (the embedded broker, dataflow cluster members, `analytics up`'s
dataflow and API) stops them itself when it stops, in order and cleanly. When it cannot (it was
killed with SIGKILL, or crashed hard) its children would live on as orphans: members still
consuming, a broker still holding its port. On Linux the kernel can send each child a signal
when its parent dies (`PR_SET_PDEATHSIG`); the children shut down on it as on any SIGTERM.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def stop_with_parent(stop_signal: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `stop_signal` when this process dies.

    None (no such guard) off Linux, or off the main thread: the kernel ties the signal to the
    *thread* that started the child, and a worker thread that ends would take the child with it.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, not between fork and exec
    parent = os.getpid()

    def in_the_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(stop_signal), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the guard was set: act as it would have
            os.kill(os.getpid(), stop_signal)

    return in_the_child


def stop_child(child: subprocess.Popen, stop_signal: signal.Signals, timeout: float) -> int | None:
    """Send `stop_signal` (the one the child stops cleanly on) and wait up to `timeout` seconds; kill
    it if it is still running then. Its exit code, or None if it had to be killed; nothing is sent
    to a child that has exited already."""
    if child.poll() is not None:
        return child.returncode
    child.send_signal(stop_signal)
    try:
        return child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        return None


class ForkedChild:
    """A copy of this process running `main` (see `fork_child`), watched as a `subprocess.Popen` is."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, stop_signal: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, stop_signal)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_child(
    main: Callable[[], int], *, name: str | None = None, stop_signal: signal.Signals = signal.SIGTERM
) -> ForkedChild:
    """Run `main()` in a fork of this process, which exits with its return code (1 if it raises).

    A fork starts with every module this process has loaded: cluster members forked from a parent
    that imported the dataflow skip the second or so of imports each would do. Fork only from the
    main thread, with no thread running that the child would need (it gets only the forking one)
    and no connection it would share. The child never returns into its parent's code: no `finally`
    or `atexit` of the parent runs in it (they would stop the parent's own services). Like
    `stop_with_parent`, it gets `stop_signal` when the parent dies (Linux). `name` (15 characters at
    most) is what `ps`, `top` and psutil call it: its command line is its parent's."""
    guard = stop_with_parent(stop_signal)
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    code = 1
    try:
        if guard is not None:
            guard()
        if name is not None and sys.platform.startswith("linux"):
            ctypes.CDLL(None).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)
        code = main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except KeyboardInterrupt:  # stopped by a signal before it could stop cleanly
        code = 130
    except BaseException:  # noqa: BLE001 - reported here: nothing above this frame may run in the child
        logging.getLogger(__name__).exception("forked child failed")
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
