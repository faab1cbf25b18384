"""The collector's schedule: young passes after each batch, a middle one every N, a full one on time."""

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


def test_batches_get_young_passes_every_nth_a_middle_one_and_a_full_one_when_due(restored_gc):
    clock = [0.0]
    collector = BatchPacedCollector(middle_every=3, full_every_s=10.0, monotonic=lambda: clock[0])
    collector.start()

    generations = []
    for _ in range(7):
        clock[0] += 2.0
        generations.append(collector.batch_done())

    # t=2,4,6,8: young, young, middle (3rd), young; t=10: full (due), then the count goes on.
    assert generations == [0, 0, 1, 0, 2, 1, 0]


def test_start_freezes_the_start_up_heap_and_keeps_the_automatic_collector_as_a_safety_net(restored_gc):
    BatchPacedCollector().start()

    assert gc.isenabled()
    assert gc.get_threshold() == SAFETY_NET_THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_a_cycle_made_during_a_batch_is_collected_after_it(restored_gc):
    collector = BatchPacedCollector()
    collector.start()

    class Node:
        pass

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert any(type(o).__name__ == "Node" for o in gc.get_objects(generation=0))

    collector.batch_done()

    assert not any(type(o).__name__ == "Node" for o in gc.get_objects())
