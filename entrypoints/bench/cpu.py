"""`analytics bench`: where the CPU went during a measured window, component by component.

A throughput or a latency alone does not say what bounds it. Over each measured window the
bench reads the CPU time of the dataflow (all its processes), the database server (all its
backends), the broker, the bench itself (the load generator) and the whole machine, and reports
each in cores: CPU-seconds per second of the window. The components are found from what the
bench already holds: the dataflow is its child; the database server is the parent of the
backend serving the bench's own connection; the broker is whatever listens on the bootstrap
port. A component that cannot be seen from here (another host, another user) is left out of
the report rather than guessed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import psutil
from sqlalchemy import Engine, text

Reading = Callable[[], float | None]  # CPU-seconds so far, or None when it cannot be read
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and all its descendants, including those already exited and reaped.

    Each live process counts its own time and that of its reaped children, so a child that exits
    between two readings moves from one term to another without being lost or counted twice."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def own_cpu_seconds() -> float:
    """This process's CPU time (all its threads), without the children it has reaped."""
    times = psutil.Process().cpu_times()
    return times.user + times.system


def machine_busy_seconds() -> float:
    """CPU-seconds all cores spent busy since boot (Linux counts guest time inside user)."""
    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


def postgres_server_pid(engine: Engine) -> int | None:
    """The local Postgres server's main process: the parent of this connection's backend."""
    with engine.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        process = psutil.Process(backend)
        if "postgres" not in " ".join(process.cmdline()) and "postgres" not in process.name():
            return None  # the server is on another host: this pid is someone else's
        return process.ppid()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def listener_pid(bootstrap: str) -> int | None:
    """The local process listening on the first bootstrap address's port (the broker)."""
    address = urlsplit("//" + bootstrap.split(",")[0].strip())
    if address.hostname not in _LOOPBACK or address.port is None:
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == address.port:
            return connection.pid
    return None


def bench_components(dataflow_pid: int, engine: Engine, bootstrap: str) -> dict[str, Reading]:
    """The readings of a bench window: the dataflow, the database server, the broker, the bench."""
    components: dict[str, Reading] = {"dataflow": lambda: tree_cpu_seconds(dataflow_pid)}
    if (server := postgres_server_pid(engine)) is not None:
        components["postgres"] = lambda: tree_cpu_seconds(server)
    if (broker := listener_pid(bootstrap)) is not None and broker != os.getpid():
        components["broker"] = lambda: tree_cpu_seconds(broker)
    components["bench"] = own_cpu_seconds
    return components


# Processes' CPU times advance in 10 ms clock ticks: over a shorter window a busy process can read
# as idle, or one tick as two cores. A window this short gives no figure rather than a wrong one.
MIN_WINDOW_S = 0.5


class CpuMeter:
    """Cores used by each component between `start()` and `stop()`, and by the whole machine."""

    def __init__(
        self,
        components: Mapping[str, Reading],
        *,
        machine: Callable[[], float] = machine_busy_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._components = dict(components)
        self._machine = machine
        self._clock = clock
        self._start: tuple[float, float, dict[str, float | None]] | None = None

    def start(self) -> None:
        self._start = (self._clock(), self._machine(), self._read())

    def stop(self) -> dict[str, float]:
        """{component: cores} for those read at both ends, and `machine`: all the host's cores busy;
        nothing for a window shorter than `MIN_WINDOW_S`."""
        if self._start is None:
            raise RuntimeError("stop() before start()")
        began, machine_before, before = self._start
        readings, machine_after, ended = self._read(), self._machine(), self._clock()
        wall = ended - began
        if wall < MIN_WINDOW_S:
            return {}
        cores = {
            name: round((readings[name] - spent) / wall, 2)
            for name, spent in before.items()
            if spent is not None and readings.get(name) is not None
        }
        cores["machine"] = round((machine_after - machine_before) / wall, 2)
        return cores

    def _read(self) -> dict[str, float | None]:
        return {name: reading() for name, reading in self._components.items()}


def describe(cores: Mapping[str, float], cpus: int | None) -> str:
    """'dataflow 1.45, postgres 0.38, broker 0.09, bench 0.02 (machine 1.97 of 2)'."""
    parts = ", ".join(f"{name} {value}" for name, value in cores.items() if name != "machine")
    machine = cores.get("machine")
    if machine is None:
        return parts
    return f"{parts} (machine {machine} of {cpus})" if parts else f"machine {machine} of {cpus}"
