"""Children that stop when the process that started them dies, even by `kill -9`.

A command that starts helpers (the embedded broker, dataflow cluster members, `analytics up`'s
dataflow and API) stops them itself when it stops, in order and cleanly. When it cannot (it was
killed with SIGKILL, or crashed hard) its children would live on as orphans: members still
consuming, a broker still holding its port. On Linux the kernel can send each child a signal
when its parent dies (`PR_SET_PDEATHSIG`); the children shut down on it as on any SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


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
