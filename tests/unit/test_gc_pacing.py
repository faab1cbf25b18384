"""The collector's schedule: passes after batches, on a clock."""

from __future__ import annotations

import gc

import pytest

from entrypoints.gc_pacing import SAFETY_NET_THRESHOLDS, BatchPacedCollector


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_passes_run_after_batches_when_due_the_oldest_due_covering_the_younger(restored_gc):
    clock = [0.0]
    collector = BatchPacedCollector(young_every_s=2, middle_every_s=5, full_every_s=11, monotonic=lambda: clock[0])
    collector.start()

    generations = []
    for _ in range(12):
        clock[0] += 1.0
        generations.append(collector.batch_done())

    # t=1..12: young at 2 and 4; middle at 5 (young reset too); young at 7 and 9; middle at 10;
    # full at 11 (the others reset); none at 12.
    assert generations == [None, 0, None, 0, 1, None, 0, None, 0, 1, 2, None]


def test_start_freezes_the_start_up_heap_and_keeps_the_automatic_collector_as_a_safety_net(restored_gc):
    BatchPacedCollector().start()

    assert gc.isenabled()
    assert gc.get_threshold() == SAFETY_NET_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_a_cycle_made_during_a_batch_is_collected_after_it(restored_gc):
    clock = [0.0]
    collector = BatchPacedCollector(young_every_s=1, monotonic=lambda: clock[0])
    collector.start()

    class Node:
        pass

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert any(type(o).__name__ == "Node" for o in gc.get_objects(generation=0))

    clock[0] = 1.0
    assert collector.batch_done() == 0

    assert not any(type(o).__name__ == "Node" for o in gc.get_objects())
