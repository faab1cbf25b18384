"""`EventPublisher` over a confluent-kafka (librdkafka) idempotent producer."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from application.ports.event_log import MAX_RECORD_BYTES, DeliveryReport, OnRefused, OnRefusedAt
from domain.errors import BrokerUnavailable

# Durability first: every in-sync replica acknowledges, and idempotence lets librdkafka
# retry without duplicating or reordering a partition. Throughput comes from batching
# (linger, large batches, lz4) rather than from weaker acks.
# Errors about the record itself, not the broker's health: the same record is refused again.
REFUSED_FOR_GOOD = frozenset(
    {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_RECORD}
)

PRODUCER_SETTINGS: dict[str, object] = {
    "acks": "all",
    "enable.idempotence": True,
    "compression.type": "lz4",
    # A steady producer sends a request per linger interval and partition; each is one more object
    # that the embedded broker lists on every fetch, so 5 ms cost the machine more than the wait
    # saved. `flush()` (the dataflow's acknowledgement, a bounded send) does not wait for linger.
    "linger.ms": 20,
    "batch.num.messages": 10000,
    "retry.backoff.ms": 100,
    "retry.backoff.max.ms": 2000,
    "message.timeout.ms": 60000,
    "queue.buffering.max.messages": 500000,
    # An event may be 1 MiB (the contract's limit); its enriched copy on user-analytics is a little
    # more. librdkafka's default (1,000,000) would refuse both, for good, and block a partition.
    "message.max.bytes": MAX_RECORD_BYTES,
    # A Python callback per acknowledged record cost 0.4-1 us, on every event the dataflow publishes
    # (twice for anomalies): only failures call back; what was delivered is what left the queue.
    "delivery.report.only.error": True,
}


class KafkaEventPublisher:
    """Publishes records with delivery accounting.

    The base client `config` (bootstrap servers, security) is merged with
    `PRODUCER_SETTINGS`; `overrides` win over both (fault tests shorten timeouts).
    Delivery callbacks (failures only) run inside `poll()`/`flush()` on the calling thread; a
    lock keeps the counters right if publishing and flushing happen on different threads.
    Delivered = queued - failed - refused - still pending: every queued record ends as one of those.
    """

    def __init__(
        self,
        config: Mapping[str, object],
        *,
        overrides: Mapping[str, object] | None = None,
        poll_every: int = 1000,
        enqueue_timeout: float = 30.0,
    ) -> None:
        self._producer = Producer({**config, **PRODUCER_SETTINGS, **(overrides or {})})
        self._poll_every = poll_every
        self._enqueue_timeout = enqueue_timeout
        self._lock = threading.Lock()
        self._queued = 0
        self._failed = 0
        self._refused = 0  # refused for good by the broker after being queued: neither delivered nor failed
        self._delivered = 0  # the highest count derived so far: a counter never goes back
        self._last_error: str | None = None
        self._closed = False

    def publish(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] = (),
        on_refused: OnRefused | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        kwargs: dict = {"headers": list(headers)} if headers else {}
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        callback = self._on_delivery if on_refused is None else partial(self._on_delivery, on_refused=on_refused)
        if self._produce(topic, key, value, callback, kwargs, on_refused):
            with self._lock:
                self._queued += 1
                queued = self._queued
            if queued % self._poll_every == 0:
                self._producer.poll(0)

    def publish_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes]], on_refused: OnRefusedAt) -> None:
        # One delivery callback serves the whole batch: no closure per record. A refusal by the
        # broker (rare) is matched back to its record by value.
        callback = self._batch_callback(records, on_refused)
        produce, poll, poll_every = self._producer.produce, self._producer.poll, self._poll_every
        queued = 0
        for index, (key, value) in enumerate(records):
            try:
                produce(topic, value, key, on_delivery=callback)
            except (BufferError, KafkaException):  # queue full, or refused: the careful path
                refused = partial(on_refused, index)
                if not self._produce(topic, key, value, callback, {}, refused):
                    continue
            queued += 1
            if queued % poll_every == 0:
                poll(0)
        with self._lock:  # several writer threads share a publisher
            self._queued += queued

    def _produce(
        self, topic: str, key: bytes | None, value: bytes, callback, kwargs: dict, on_refused: OnRefused | None
    ) -> bool:
        """Queue one record, waiting while the local queue is full; False if refused for good."""
        deadline: float | None = None
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=callback, **kwargs)
                return True
            except BufferError:
                # The local queue is full: the broker is slower than us (or gone). Serving
                # callbacks frees room; give up only after `enqueue_timeout`.
                deadline = deadline if deadline is not None else time.monotonic() + self._enqueue_timeout
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(
                        f"producer queue still full after {self._enqueue_timeout}s ({len(self._producer)} pending)"
                    ) from None
                self._producer.poll(0.05)
            except KafkaException as exc:
                if on_refused is not None and exc.args[0].code() in REFUSED_FOR_GOOD:  # e.g. above message.max.bytes
                    on_refused(f"{topic}: refused by the producer: {exc.args[0].str()}")
                    return False
                # e.g. a fatal idempotence error: this producer instance cannot publish anymore.
                raise BrokerUnavailable(f"cannot queue a record for {topic!r}: {exc}") from exc

    def _batch_callback(self, records: Sequence[tuple[bytes | None, bytes]], on_refused: OnRefusedAt):
        claimed: set[int] = set()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is not None and error.code() in REFUSED_FOR_GOOD:
                value = message.value()
                for index, (_, sent) in enumerate(records):
                    if index not in claimed and sent == value:
                        claimed.add(index)
                        with self._lock:
                            self._refused += 1
                        on_refused(index, f"{message.topic()}: refused by the broker: {error.str()}")
                        return
            self._on_delivery(error, message)

        return on_delivery

    def _on_delivery(self, error: KafkaError | None, message: Message, on_refused: OnRefused | None = None) -> None:
        if error is None:  # only with delivery reports for every record (an override): counted as it left the queue
            return
        if on_refused is not None and error.code() in REFUSED_FOR_GOOD:
            with self._lock:
                self._refused += 1
            on_refused(f"{message.topic()}: refused by the broker: {error.str()}")  # e.g. the topic's max.message.bytes
            return
        with self._lock:
            self._failed += 1
            self._last_error = f"{message.topic()}[{message.partition()}]: {error.str()}"

    def flush(self, timeout: float = 30.0) -> DeliveryReport:
        """Totals once every record queued before this call is acknowledged or failed; `pending` is
        what was still unsettled if `timeout` ran out first. Records other threads queue meanwhile
        (API requests, partition writers share a publisher) are theirs to flush: counted here as
        pending, they would fail a flush whose own records all arrived."""
        # librdkafka's flush ends once its queue is empty (everything queued before it settled,
        # failures called back) and says 0; on timeout it says how many records were left.
        left = self._producer.flush(timeout)
        report = self.report()
        return DeliveryReport(delivered=report.delivered, failed=report.failed, pending=left)

    def report(self) -> DeliveryReport:
        if not self._closed:
            self._producer.poll(0)  # serve pending delivery callbacks, without waiting
        queued, delivered, failed, pending = self._counts()
        return DeliveryReport(delivered=delivered, failed=failed, pending=pending)

    def totals(self) -> tuple[int, int, int]:
        """(queued, delivered, failed) so far, without serving callbacks: cheap enough for every scrape."""
        queued, delivered, failed, _ = self._counts()
        return queued, delivered, failed

    def _counts(self) -> tuple[int, int, int, int]:
        with self._lock:
            pending = len(self._producer)  # in the queue, in flight, or a failure not yet called back
            # While a batch is being queued the producer holds records not counted yet, so this is
            # briefly too low, never too high; the highest value seen is still a lower bound.
            derived = self._queued - self._failed - self._refused - pending
            self._delivered = max(self._delivered, derived)
            return self._queued, self._delivered, self._failed, pending

    @property
    def last_error(self) -> str | None:
        """The most recent delivery failure, for diagnostics (None if none failed)."""
        with self._lock:
            return self._last_error

    def close(self, timeout: float = 30.0) -> DeliveryReport:
        """Flush what is queued, then release the producer; returns the final totals. Safe to repeat."""
        if self._closed:
            return self.report()
        report = self.flush(timeout)
        self._producer.close()
        self._closed = True
        return report
