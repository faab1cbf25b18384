"""A broker refusing one record for good (the topic's `max.message.bytes` below it).

The embedded broker does not enforce a topic's size limit, so the delivery report such a
broker sends is played into the publisher's callback here; the producer-side refusal is in
the event-log contract, against the real broker.
"""

from __future__ import annotations

from confluent_kafka import KafkaError

from adapters.kafka.publisher import KafkaEventPublisher


class _Record:
    def __init__(self, value: bytes = b"{}") -> None:
        self._value = value

    def topic(self) -> str:
        return "user-analytics"

    def partition(self) -> int:
        return 2

    def value(self) -> bytes:
        return self._value


class _NothingPending:
    def __len__(self) -> int:
        return 0


def _publisher() -> KafkaEventPublisher:
    # Nothing listens there: only the delivery callback is exercised, no record is sent.
    return KafkaEventPublisher({"bootstrap.servers": "127.0.0.1:9", "socket.timeout.ms": 100})


def test_a_record_the_broker_refuses_for_good_goes_to_its_handler_not_the_failures():
    publisher, refused = _publisher(), []

    publisher._on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Record(), on_refused=refused.append)

    assert refused == ["user-analytics: refused by the broker: Broker: Message size too large"]
    assert publisher.totals()[2] == 0 and publisher.last_error is None


def test_a_transient_error_is_a_failure_even_with_a_handler():
    publisher, refused = _publisher(), []

    publisher._on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), _Record(), on_refused=refused.append)

    assert refused == [] and publisher.totals()[2] == 1
    assert publisher.last_error.startswith("user-analytics[2]: ")


def test_without_a_handler_a_refusal_is_a_failure():
    publisher = _publisher()

    publisher._on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Record())

    assert publisher.totals()[2] == 1


def test_a_batch_refusal_by_the_broker_names_the_record_it_refused():
    publisher, refused = _publisher(), []
    records = [(b"user-1", b'{"n":1}'), (b"user-2", b'{"n":2}'), (b"user-3", b'{"n":2}')]
    on_delivery = publisher._batch_callback(records, lambda index, reason: refused.append((index, reason)))
    publisher._queued = len(records)  # as `publish_many` counts them; the first is delivered (no callback)
    publisher._producer = _NothingPending()  # the real one counts its unserved connection errors as pending

    on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Record(b'{"n":2}'))
    on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), _Record(b'{"n":2}'))  # the same bytes: the next one

    assert [index for index, _ in refused] == [1, 2]
    assert refused[0][1] == "user-analytics: refused by the broker: Broker: Message size too large"
    assert publisher.totals() == (3, 1, 0)  # queued, delivered (neither refused nor failed), failed


def test_a_transient_error_in_a_batch_is_a_failure():
    publisher, refused = _publisher(), []
    on_delivery = publisher._batch_callback([(b"user-1", b"{}")], lambda index, reason: refused.append(index))

    on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), _Record())

    assert refused == [] and publisher.totals()[2] == 1
