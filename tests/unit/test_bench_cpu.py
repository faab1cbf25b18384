"""Where the bench says the CPU went: the meter's arithmetic, and the readings it is built on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from entrypoints.bench.cpu import CpuMeter, describe, listener_pid, own_cpu_seconds, tree_cpu_seconds

# A parent that starts a child burning CPU, waits for it (so its time is reaped), then idles.
_BURN = "import time\nt = time.process_time() + 0.4\nwhile time.process_time() < t: pass"
_PARENT = f"""
import subprocess, sys, time
subprocess.run([sys.executable, "-c", {_BURN!r}], check=True)
print("burnt", flush=True)
time.sleep(30)
"""


class _Readings:
    def __init__(self) -> None:
        self.now, self.machine, self.dataflow, self.broker = 100.0, 50.0, 10.0, None

    def reading(self, name: str):
        return lambda: getattr(self, name)


def test_cores_are_cpu_seconds_per_second_of_the_window_for_each_component_and_the_machine():
    r = _Readings()
    meter = CpuMeter(
        {"dataflow": r.reading("dataflow"), "broker": r.reading("broker")},
        machine=r.reading("machine"),
        clock=r.reading("now"),
    )
    meter.start()
    r.now, r.machine, r.dataflow, r.broker = 104.0, 57.0, 15.2, 3.0

    cores = meter.stop()

    # 5.2 CPU-s over 4 s; the machine was busy 7 of 8 core-seconds. The broker was unreadable
    # at the start (say it had not started): left out, not counted from zero.
    assert cores == {"dataflow": 1.3, "machine": 1.75}
    assert describe(cores, 2) == "dataflow 1.3 (machine 1.75 of 2)"


def test_a_window_too_short_for_the_clock_ticks_gives_no_figure():
    r = _Readings()
    meter = CpuMeter({"dataflow": r.reading("dataflow")}, machine=r.reading("machine"), clock=r.reading("now"))
    meter.start()
    r.now, r.machine, r.dataflow = 100.2, 50.01, 10.0  # 200 ms, one tick of the machine, none of the dataflow

    assert meter.stop() == {}


def test_stop_before_start_is_an_error():
    with pytest.raises(RuntimeError):
        CpuMeter({}).stop()


def test_a_process_tree_counts_children_that_have_exited_and_been_reaped():
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "burnt"
        spent = tree_cpu_seconds(parent.pid)
        assert spent is not None and spent >= 0.35  # the child's 0.4 s, now in its parent's reaped time
    finally:
        parent.kill()
        parent.wait()
    assert tree_cpu_seconds(parent.pid) is None  # gone: unreadable, not zero


def test_this_process_time_grows_with_work():
    before = own_cpu_seconds()
    sum(i * i for i in range(2_000_000))
    assert own_cpu_seconds() > before


def test_the_broker_is_found_as_the_process_listening_on_the_bootstrap_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listener_pid(f"127.0.0.1:{port}") == os.getpid()
        assert listener_pid(f"localhost:{port},127.0.0.1:9") == os.getpid()
    assert listener_pid("broker.example.com:9092") is None  # another host: not guessed
