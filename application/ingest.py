"""Recording a batch: the one place where the exactly-once rule is applied."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from application.messages import BatchOutcome, IngestBatch, ReceivedEvent
from application.ports.event_store import UnitOfWork
from domain.errors import RejectedByStore
from domain.failures import ErrorType, FailedEvent
from domain.users import user_activity

UnitOfWorkFactory = Callable[[], UnitOfWork]


def record_batch(
    start_unit_of_work: UnitOfWorkFactory, batch: IngestBatch, *, processor_version: str, now: datetime
) -> BatchOutcome:
    """Store a batch so that replaying it, whole or in part, changes nothing more.

    New events, the projections fed by exactly those new events, dead letters and
    the consumed offset commit in one transaction. If the store rejects the batch's
    data, events are retried one by one and the rejected ones dead-lettered
    (`persist`), so one poison event cannot block a partition.
    """
    try:
        with start_unit_of_work() as uow:
            stored = _store_events(uow, batch.events)
            failed = uow.dead_letters.add(batch.failures)
            uow.offsets.advance(batch.position)
            uow.commit()
            return BatchOutcome(stored=stored, duplicates=len(batch.events) - stored, failed=failed)
    except RejectedByStore:
        return _record_one_by_one(start_unit_of_work, batch, processor_version=processor_version, now=now)


def _store_events(uow: UnitOfWork, events: list[ReceivedEvent]) -> int:
    new = uow.events.add_new(events)
    if new:
        uow.users.apply(user_activity(received.event for received in new).values())
    return len(new)


def _record_one_by_one(
    start_unit_of_work: UnitOfWorkFactory, batch: IngestBatch, *, processor_version: str, now: datetime
) -> BatchOutcome:
    # Each event commits alone; a crash half-way is safe because storing is idempotent
    # and the offset only advances in the final transaction below.
    stored = rejected = 0
    failures = list(batch.failures)
    for received in batch.events:
        try:
            with start_unit_of_work() as uow:
                stored += _store_events(uow, [received])
                uow.commit()
        except RejectedByStore as error:
            rejected += 1
            failures.append(_persist_failure(received, str(error), processor_version, now))
    with start_unit_of_work() as uow:
        failed = uow.dead_letters.add(failures)
        uow.offsets.advance(batch.position)
        uow.commit()
    return BatchOutcome(stored=stored, duplicates=len(batch.events) - stored - rejected, failed=failed)


def _persist_failure(received: ReceivedEvent, reason: str, processor_version: str, now: datetime) -> FailedEvent:
    return FailedEvent(
        error_type=ErrorType.PERSIST,
        error_reason=reason,
        raw_data=received.event.model_dump_json(),
        event_id=str(received.event.event_id),
        source_topic=received.topic,
        source_partition=received.partition,
        source_offset=received.offset,
        processor_version=processor_version,
        failed_at=now,
    )
