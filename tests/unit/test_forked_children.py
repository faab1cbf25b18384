"""`fork_child`: cluster members forked from a parent that has the dataflow loaded."""

from __future__ import annotations

import gc
import os
import signal
import sys
import time

import psutil
import pytest

from adapters.child_processes import fork_child
from entrypoints.processor import run_cluster

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork and prctl: Linux")


def test_a_forked_child_exits_with_what_its_main_returns():
    assert fork_child(lambda: 3).wait(timeout=10) == 3
    assert fork_child(lambda: 0).wait(timeout=10) == 0


def test_a_forked_child_whose_main_raises_exits_with_an_error_code():
    def fails() -> int:
        raise RuntimeError("boom")

    def exits() -> int:
        raise SystemExit(4)

    assert fork_child(fails).wait(timeout=10) == 1
    assert fork_child(exits).wait(timeout=10) == 4


def test_the_parents_code_after_the_fork_never_runs_in_the_child(tmp_path):
    marks = tmp_path / "marks"
    try:
        child = fork_child(lambda: 0)
    finally:
        with marks.open("a") as out:
            out.write(f"{os.getpid()}\n")  # a child that returned into this frame would write here too
    assert child.wait(timeout=10) == 0
    assert marks.read_text().split() == [str(os.getpid())]


def test_a_forked_child_goes_by_its_name_and_can_be_stopped():
    child = fork_child(lambda: time.sleep(30) or 0, name="dataflow-7")
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).name() != "dataflow-7":
            assert time.monotonic() < deadline, psutil.Process(child.pid).name()
            time.sleep(0.01)
        assert child.poll() is None
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        child.kill()


@pytest.fixture
def restored_process_state():
    """`run_cluster` sets this process's stop signals and freezes its objects: undone after the test."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    gc.unfreeze()
    for s, handler in handlers.items():
        signal.signal(s, handler)


def test_cluster_members_start_with_the_preloaded_modules_frozen(restored_process_state):
    # Each member reports with its exit code whether it got the preloaded module and found what it
    # inherited frozen, so that its own start-up collection has nothing of its parent's to scan.
    def member(process_id: int, addresses: list[str]) -> int:
        if "tomllib" not in sys.modules:
            return 3
        if not any(obj is sys.modules["tomllib"] for obj in gc.get_objects()) and gc.get_freeze_count() > 0:
            return 0
        return 4

    gc.unfreeze()
    sys.modules.pop("tomllib", None)
    assert run_cluster(2, member, preload=("tomllib",)) == 0
