"""The bench's ingest timeline: sampled once a second and at the end, and read back as the
rate of each quarter of the steady window."""

import pytest

from entrypoints.bench.progress import IngestProgress, rates_by_quarter


def test_the_timeline_takes_a_point_a_second_and_always_the_last():
    progress = IngestProgress(total=1000, began=100.0, show=False)
    for now, committed in [(100.4, 0), (101.0, 0), (101.5, 100), (102.1, 250), (102.2, 260), (102.5, 1000)]:
        progress.update(now, committed, done=committed == 1000)

    assert progress.timeline == [(1.0, 0), (2.1, 250), (2.5, 1000)]


def test_quarters_of_a_steady_window_are_read_between_the_timeline_points():
    # No commit until 2 s (start-up), then 100, 200, 300, 400 events in successive seconds.
    timeline = [(1.0, 0), (2.0, 50), (3.0, 150), (4.0, 350), (5.0, 650), (6.0, 1050)]

    assert rates_by_quarter(timeline) == [100.0, 200.0, 300.0, 400.0]


def test_a_quarter_between_two_far_apart_points_gets_its_share_of_the_rise():
    assert rates_by_quarter([(0.0, 0), (1.0, 10), (9.0, 810)]) == pytest.approx([100.0, 100.0, 100.0, 100.0])


@pytest.mark.parametrize("timeline", [[], [(1.0, 0), (2.0, 0)], [(3.0, 500)], [(3.0, 500), (3.0, 600)]])
def test_no_quarters_without_a_steady_window(timeline):
    assert rates_by_quarter(timeline) == []
