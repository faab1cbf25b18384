"""Publishing a batch's copies of its events, and later waiting until the topic has them all."""

from __future__ import annotations

from collections.abc import Sequence

from application.messages import ReceivedEvent
from application.ports.event_log import EventPublisher, Refusals
from domain.errors import BrokerUnavailable


class PublishedRecords:
    """The `Acknowledgement` of records queued by `publish_unacknowledged`."""

    def __init__(self, publisher: EventPublisher, topic: str, what: str, flush_timeout: float) -> None:
        self._publisher = publisher
        self._topic = topic
        self._what = what
        self._flush_timeout = flush_timeout
        self._failed_before = publisher.report().failed
        self.refused: Refusals = []

    def wait(self) -> Refusals:
        """Flush the publisher (everything it queued, whatever the topic) and check: anything
        missing raises `BrokerUnavailable`, so the batch rolls back and is retried and nothing is
        silently lost. A second `wait` on a flushed publisher returns at once."""
        report = self._publisher.flush(self._flush_timeout)
        if report.pending or report.failed > self._failed_before:
            raise BrokerUnavailable(f"{self._what} not acknowledged by {self._topic!r} ({report})")
        return self.refused


def publish_unacknowledged(
    publisher: EventPublisher,
    topic: str,
    events: Sequence[ReceivedEvent],
    values: Sequence[bytes],
    *,
    flush_timeout: float,
    what: str,
) -> PublishedRecords:
    """Queue each event's record (`values[i]` for `events[i]`, keyed by its user) without waiting:
    the batch goes on with its database work meanwhile, and waits once for all its topics."""
    published = PublishedRecords(publisher, topic, what, flush_timeout)
    refused = published.refused
    publisher.publish_many(
        topic,
        [(received.event.user_id.encode(), value) for received, value in zip(events, values, strict=True)],
        lambda index, reason: refused.append((events[index], reason)),
    )
    return published
