"""Labelled mock traffic: anomalies that are what their label says, and churners that stop."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from application.traffic import to_wire
from application.traffic_anomalies import ANOMALY_KINDS, LabelledEvent, generate_labelled
from domain.country_zones import COUNTRY_ZONE
from domain.events import EventType
from domain.validation import parse_event

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
N = 50_000


@pytest.fixture(scope="module")
def traffic():
    """~10 s between a session's events, so episodes run at their natural time scale."""
    labelled = generate_labelled(N, seed=11, start=START, rate=10.0, anomaly_rate=0.01)
    return list(labelled), labelled.churned_users


@pytest.fixture(scope="module")
def fast_traffic():
    """The default 1000 events/s: episodes shrink with the stream but keep their shape."""
    labelled = generate_labelled(15_000, seed=5, start=START, anomaly_rate=0.02)
    return list(labelled), labelled.churned_users


@pytest.fixture(params=["traffic", "fast_traffic"])
def stream(request) -> list[LabelledEvent]:
    return request.getfixturevalue(request.param)[0]


def _episodes(stream: list[LabelledEvent], kind: str) -> list[list[tuple[int, LabelledEvent]]]:
    """Each episode of `kind` (its own session), as (position in the stream, event) in order."""
    by_session = defaultdict(list)
    for position, labelled in enumerate(stream):
        if labelled.anomaly == kind:
            by_session[labelled.event.session_id].append((position, labelled))
    assert by_session, f"no {kind} episode"
    return list(by_session.values())


def _earlier_normal(stream: list[LabelledEvent], position: int, user: str) -> list:
    return [le.event for le in stream[:position] if le.event.user_id == user and le.anomaly is None]


def test_same_arguments_give_the_same_stream_and_churners():
    def run(seed):
        labelled = generate_labelled(3_000, seed=seed, start=START, anomaly_rate=0.05)
        return list(labelled), labelled.churned_users

    first, again, other = run(42), run(42), run(43)
    assert first == again
    assert [to_wire(le.event) for le in first[0]] == [to_wire(le.event) for le in again[0]]
    assert not {le.event.event_id for le in first[0]} & {le.event.event_id for le in other[0]}


@pytest.mark.parametrize("count", [0, 1, 9, 700])
def test_exactly_count_events_in_time_order(count):
    events = [le.event for le in generate_labelled(count, seed=3, start=START, anomaly_rate=0.2)]
    assert len(events) == count
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_episodes_are_never_cut_short_by_the_end_of_the_stream(seed):
    stream = list(generate_labelled(2_000, seed=seed, start=START, anomaly_rate=0.2))
    assert stream[-1].anomaly  # a high rate keeps episodes going until the very end
    sizes = Counter((le.anomaly, le.event.session_id) for le in stream if le.anomaly)
    least = {"click_flood": 30, "purchase_burst": 5, "account_takeover": 2}
    assert all(size >= least.get(kind, 1) for (kind, _), size in sizes.items()), sizes
    for episode in _episodes(stream, "account_takeover"):
        assert episode[-1][1].event.is_purchase


def test_exact_count_unique_ids_and_time_order(stream):
    assert len(stream) in (N, 15_000)
    assert len({le.event.event_id for le in stream}) == len(stream)
    stamps = [le.event.timestamp for le in stream]
    assert stamps == sorted(stamps)


def test_about_the_asked_share_is_anomalous_and_every_kind_appears(traffic):
    stream, _ = traffic
    kinds = Counter(le.anomaly for le in stream)
    assert 0.005 <= 1 - kinds[None] / N <= 0.02, kinds
    assert set(kinds) == {None, *ANOMALY_KINDS}


def test_no_anomalies_when_the_rate_is_zero():
    labelled = generate_labelled(5_000, seed=2, start=START, anomaly_rate=0.0)
    assert all(le.anomaly is None for le in labelled)


def test_labels_belong_to_whole_sessions_and_only_to_non_churners(traffic):
    stream, churned = traffic
    labels = defaultdict(set)
    for le in stream:
        labels[le.event.session_id].add(le.anomaly)
    assert all(len(found) == 1 for found in labels.values())  # an episode is a session of its own
    assert not {le.event.user_id for le in stream if le.anomaly} & churned


def test_stolen_card_is_far_above_the_users_median_purchase(stream):
    for [(position, le)] in _episodes(stream, "stolen_card"):
        earlier = [e.value for e in _earlier_normal(stream, position, le.event.user_id) if e.is_purchase]
        assert le.event.is_purchase and len(earlier) >= 2
        assert le.event.value >= 20 * statistics.median(earlier), (le.event.value, earlier)


def test_purchase_burst_is_5_to_15_purchases_within_a_minute(stream):
    for episode in _episodes(stream, "purchase_burst"):
        events = [le.event for _, le in episode]
        assert 5 <= len(events) <= 15 and all(e.is_purchase for e in events)
        assert events[-1].timestamp - events[0].timestamp <= timedelta(seconds=60)


def test_click_flood_is_30_or_more_clicks_within_10_seconds(stream):
    for episode in _episodes(stream, "click_flood"):
        events = [le.event for _, le in episode]
        assert 30 <= len(events) <= 100 and {e.event_type for e in events} == {EventType.CLICK}
        assert events[-1].timestamp - events[0].timestamp <= timedelta(seconds=10)


def test_impossible_travel_comes_from_another_continent_minutes_after_home(stream):
    def continent(country):
        return COUNTRY_ZONE[country].split("/")[0]

    for episode in _episodes(stream, "impossible_travel"):
        position, first = episode[0]
        user = first.event.user_id
        previous = next(le.event for le in reversed(stream[:position]) if le.event.user_id == user)
        assert first.event.timestamp - previous.timestamp <= timedelta(minutes=10)
        assert first.event.country != previous.country
        assert continent(first.event.country) != continent(previous.country)
        assert {le.event.country for _, le in episode} == {first.event.country}


def test_account_takeover_is_a_new_device_and_country_then_a_purchase(stream):
    for episode in _episodes(stream, "account_takeover"):
        position, login = episode[0]
        earlier = _earlier_normal(stream, position, login.event.user_id)
        assert len(earlier) >= 5 and login.event.event_type is EventType.LOGIN
        assert login.event.device not in {e.device for e in earlier}
        assert login.event.country not in {e.country for e in earlier}
        purchase = episode[-1][1].event
        assert purchase.is_purchase and purchase.timestamp - login.event.timestamp <= timedelta(minutes=1)
        assert {(le.event.device, le.event.country) for _, le in episode} == {(login.event.device, login.event.country)}


def test_churners_are_active_early_and_gone_by_the_last_third(traffic):
    stream, churned = traffic
    users = [le.event.user_id for le in stream]
    first, middle, last = (Counter(users[i * N // 3 : (i + 1) * N // 3]) for i in range(3))
    assert len(churned) >= 50
    assert churned <= set(first)
    assert not churned & set(last)
    # Activity decays: their middle third holds fewer events than their first.
    assert sum(middle[u] for u in churned) < 0.8 * sum(first[u] for u in churned)
    # Everyone else goes on: most of the others active early are still seen at the end.
    stayers = set(first) - churned
    assert len(stayers & set(last)) > 0.6 * len(stayers)


def test_every_event_is_valid_on_the_wire(stream):
    for position, le in enumerate(stream):
        if le.anomaly or position % 10 == 0:
            assert parse_event(to_wire(le.event)) == le.event


def test_arguments_are_checked_up_front():
    with pytest.raises(ValueError):
        generate_labelled(10, seed=1, start=START, anomaly_rate=0.5)
    with pytest.raises(ValueError):
        generate_labelled(10, seed=1, start=START, churn_share=1.5)
    with pytest.raises(ValueError):
        generate_labelled(10, seed=1, start=datetime(2024, 5, 1))
