"""Publishing a batch's copies of its events and waiting until the topic has them all."""

from __future__ import annotations

from collections.abc import Sequence

from application.messages import ReceivedEvent
from application.ports.event_log import EventPublisher, Refusals
from domain.errors import BrokerUnavailable


def publish_acknowledged(
    publisher: EventPublisher,
    topic: str,
    events: Sequence[ReceivedEvent],
    values: Sequence[bytes],
    *,
    flush_timeout: float,
    what: str,
) -> Refusals:
    """Publish each event's record (`values[i]` for `events[i]`, keyed by its user), wait for every
    acknowledgement, and return the events whose record the topic refused for good. Anything else
    missing raises `BrokerUnavailable`: the batch rolls back and is retried, so nothing is
    silently lost."""
    refused: Refusals = []
    failed_before = publisher.report().failed
    publisher.publish_many(
        topic,
        [(received.event.user_id.encode(), value) for received, value in zip(events, values, strict=True)],
        lambda index, reason: refused.append((events[index], reason)),
    )
    report = publisher.flush(flush_timeout)
    if report.pending or report.failed > failed_before:
        raise BrokerUnavailable(f"{what} not acknowledged by {topic!r} ({report})")
    return refused
