"""SIGINT and SIGTERM both stop a long-running command as Ctrl-C does."""

from __future__ import annotations

import signal
import threading


def listen_for_stop_signals() -> None:
    """Make SIGINT and SIGTERM raise `KeyboardInterrupt` in the main thread.

    Every `with` and `finally` then runs: a dataflow stops cleanly, and the embedded broker and
    Postgres a command started stop with it instead of outliving it. Without this, SIGTERM (what
    docker, kubernetes and `timeout` send) ends Python at once, and a process started in the
    background by a non-interactive shell (`analytics up &` in a script) inherits SIGINT *ignored*,
    so it could never be stopped gracefully. Only the main thread may set handlers: elsewhere
    (a command run inside a test's thread) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
