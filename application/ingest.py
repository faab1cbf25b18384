"""Recording a batch: the one place where the exactly-once rule is applied."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from application.messages import BatchOutcome, IngestBatch, ReceivedEvent, TimingRules, first_occurrences
from application.ports.event_log import Acknowledgement, AnomalyPublisher, ProcessedEventPublisher, Refusals
from application.ports.event_store import UnitOfWork
from application.processed import ProcessedEvent
from application.projecting import add_aggregates, apply_user_projections
from application.scoring import PartitionScorer, Scoring
from domain.enrichment import enrich
from domain.errors import AlreadyStored, RejectedByStore
from domain.failures import ErrorType, FailedEvent

UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Recorder:
    """Records batches in the event store and publishes what they newly stored."""

    start_unit_of_work: UnitOfWorkFactory
    processor_version: str
    rules: TimingRules = TimingRules()
    publisher: ProcessedEventPublisher | None = None
    scoring: Scoring | None = None
    anomaly_publisher: AnomalyPublisher | None = None

    def __call__(self, batch: IngestBatch, now: datetime) -> BatchOutcome:
        return record_batch(self, batch, now=now)

    def save_scoring_state(self, partition: int) -> None:
        """Save all the partition's scorer has learned and not saved yet (users' feature states, the
        online model), so that the next start reads it instead of rebuilding it: when it closes."""
        scorer = self.scoring.for_partition(partition) if self.scoring else None
        if scorer is None:
            return
        try:
            with self.start_unit_of_work() as uow:
                scorer.save_if_due(uow, force=True)
                uow.commit()
        except BaseException:
            scorer.rolled_back()
            raise
        scorer.committed()


def record_batch(recorder: Recorder, batch: IngestBatch, *, now: datetime) -> BatchOutcome:
    """Store a batch so that replaying it, whole or in part, changes nothing more.

    New events (scored on the way in, see `application.scoring`), every projection fed by
    exactly those new events, their anomalies, dead letters and the consumed offset commit in
    one transaction; processed events and anomalies are published (and acknowledged) just
    before that commit. The aggregates every partition's writer shares (daily stats, minute
    windows) are merged last, so their row locks are held only until the commit, never
    across a broker round trip (`add_aggregates`). If the store rejects the batch's data,
    events are retried one by one and the rejected ones dead-lettered (`persist`), so one
    poison event cannot block a partition; an event whose copy an output topic refuses for
    good is stored and dead-lettered (`publish`) for the same reason.
    """
    scorer = recorder.scoring.for_partition(batch.position.partition) if recorder.scoring else None
    began = time.perf_counter()
    try:
        outcome = _in_one_transaction(recorder, batch, scorer, now, look_first=False)
    except AlreadyStored:  # redelivered events among them: redo, asking the store first
        outcome = _in_one_transaction(recorder, batch, scorer, now, look_first=True)
    return replace(outcome, write_seconds=time.perf_counter() - began)


def _in_one_transaction(
    recorder: Recorder, batch: IngestBatch, scorer: PartitionScorer | None, now: datetime, *, look_first: bool
) -> BatchOutcome:
    try:
        with recorder.start_unit_of_work() as uow:
            stored = _store_events(recorder, uow, batch.events, scorer, now, look_first=look_first)
            failures = [*batch.failures, *stored.refused]
            failed = uow.dead_letters.add(failures)
            uow.offsets.advance(batch.position)
            if scorer is not None:
                scorer.save_if_due(uow)
            add_aggregates(uow, stored.new)
            uow.commit()
    except RejectedByStore:
        _forget(scorer)
        return _record_one_by_one(recorder, batch, scorer, now=now)
    except BaseException:
        _forget(scorer)
        raise
    if scorer is not None:
        scorer.committed()
    return stored.outcome(duplicates=len(batch.events) - len(stored.new), failures=failures, failed=failed)


@dataclass(frozen=True, slots=True)
class _Stored:
    new: list[ReceivedEvent]
    anomalies: int = 0
    model_version: str | None = None
    scoring_seconds: float = 0.0
    refused: list[FailedEvent] = field(default_factory=list)  # stored, but an output topic refused their copy
    states_loaded: Mapping[str, int] = field(default_factory=dict)  # users' feature states read, by how

    def outcome(self, *, duplicates: int, failures: Sequence[FailedEvent], failed: int) -> BatchOutcome:
        late = sum(1 for r in self.new if r.timing.late)
        return BatchOutcome(
            len(self.new),
            duplicates,
            failed,
            late,
            self.anomalies,
            self.model_version,
            self.scoring_seconds,
            # Counted by member, named once per type: an enum's `.value` is a property call per event.
            stored_by_type={kind.value: n for kind, n in Counter(r.event.event_type for r in self.new).items()},
            # Dead letters are stored once per log position; fewer new than given only when another
            # writer recorded some first, and then the first `failed` of them stand for the rest.
            failed_by_type=Counter(f.error_type.value for f in failures[:failed]),
            event_times=[r.timing.event_time for r in self.new],
            received_times=[r.received_at for r in self.new],
            states_loaded=self.states_loaded,
        )


def _forget(scorer: PartitionScorer | None) -> None:
    if scorer is not None:
        scorer.rolled_back()


def _store_events(
    recorder: Recorder,
    uow: UnitOfWork,
    events: list[ReceivedEvent],
    scorer: PartitionScorer | None,
    now: datetime,
    *,
    look_first: bool = True,
) -> _Stored:
    # Scored, learned and stored once, however often delivered. Redelivery is rare, so by default
    # the batch is taken as all new and stored the fast way; if the store had some already, that
    # raises `AlreadyStored` and the batch is redone (`look_first`), asking the store first.
    if look_first:
        fresh = uow.events.unseen(events) if scorer is not None else events
    else:
        fresh = list(first_occurrences(events).values())
    scored = scorer.score(uow, fresh, now) if scorer is not None else None
    scores = scored.scores if scored is not None else [None] * len(fresh)
    if look_first:
        new = uow.events.add_new(fresh, scores)
    else:
        uow.events.add_all_new(fresh, scores)
        new = fresh
    if len(new) < len(fresh):  # another writer stored some first: not ours to publish or flag
        by_id = {r.event.event_id: score for r, score in zip(fresh, scores, strict=True)}
        scores = [by_id[r.event.event_id] for r in new]
    # Records are queued for the output topics as soon as they exist and acknowledged once, at
    # the end: the broker's round trip overlaps the anomalies' insert instead of adding to it.
    published: list[Acknowledgement] = []
    if new:
        history, placements, totals = apply_user_projections(uow, new, recorder.rules)
        if scorer is not None:
            scorer.stored(totals)
        if recorder.publisher is not None:
            enrichments = enrich([(r.event, r.timing.event_time) for r in new], history, placements)
            published.append(
                recorder.publisher.publish_processed(
                    [ProcessedEvent(r, e, s) for r, e, s in zip(new, enrichments, scores, strict=True)]
                )
            )
    anomalies = scored.anomalies if scored is not None else []
    if anomalies and len(new) < len(fresh):
        inserted = {r.event.event_id for r in new}
        anomalies = [a for a in anomalies if a.event_id in inserted]
    if anomalies:
        if recorder.anomaly_publisher is not None:
            published.append(recorder.anomaly_publisher.publish_anomalies(anomalies))
        uow.anomalies.add(anomalies)
    refused: Refusals = [refusal for acknowledgement in published for refusal in acknowledgement.wait()]
    failures = _publish_failures(refused, recorder.processor_version, now)
    if scored is None:
        return _Stored(new, refused=failures)
    return _Stored(new, len(anomalies), scored.model_version, scored.seconds, failures, scored.states_loaded)


def _publish_failures(refused: Refusals, processor_version: str, now: datetime) -> list[FailedEvent]:
    """One dead letter per stored event whose copy an output topic refused for good (a record too
    large for it): the partition goes on instead of retrying a record that can never pass."""
    reasons: dict[UUID, tuple[ReceivedEvent, list[str]]] = {}
    for received, reason in refused:
        reasons.setdefault(received.event.event_id, (received, []))[1].append(reason)
    return [
        _failure(received, ErrorType.PUBLISH, "stored, but not published: " + "; ".join(why), processor_version, now)
        for received, why in reasons.values()
    ]


def _record_one_by_one(
    recorder: Recorder, batch: IngestBatch, scorer: PartitionScorer | None, *, now: datetime
) -> BatchOutcome:
    # Each event commits alone; a crash half-way is safe because storing is idempotent
    # and the offset only advances in the final transaction below.
    new: list[ReceivedEvent] = []
    anomalies, rejected, refused = 0, 0, 0
    loaded: Counter[str] = Counter()
    failures = list(batch.failures)
    unpublished: list[FailedEvent] = []  # dead-lettered with their event, in its transaction
    for received in batch.events:
        try:
            with recorder.start_unit_of_work() as uow:
                stored = _store_events(recorder, uow, [received], scorer, now, look_first=True)
                refused += uow.dead_letters.add(stored.refused)
                add_aggregates(uow, stored.new)
                uow.commit()
            unpublished += stored.refused
            new += stored.new
            anomalies += stored.anomalies
            loaded.update(stored.states_loaded)
        except RejectedByStore as error:
            _forget(scorer)
            rejected += 1
            failures.append(_failure(received, ErrorType.PERSIST, str(error), recorder.processor_version, now))
    with recorder.start_unit_of_work() as uow:
        failed = uow.dead_letters.add(failures)
        uow.offsets.advance(batch.position)
        uow.commit()
    if scorer is not None:
        scorer.committed()
    duplicates = len(batch.events) - len(new) - rejected
    outcome = _Stored(new, anomalies, states_loaded=loaded).outcome
    return outcome(duplicates=duplicates, failures=failures[:failed] + unpublished[:refused], failed=failed + refused)


def _failure(
    received: ReceivedEvent, error_type: ErrorType, reason: str, processor_version: str, now: datetime
) -> FailedEvent:
    # The payload as received when at hand (always, from the log), else the validated model's JSON.
    raw = received.raw if received.raw is not None else received.event.model_dump_json().encode()  # type: ignore[attr-defined]
    return FailedEvent.of_payload(
        raw,
        error_type,
        reason,
        event_id=str(received.event.event_id),
        source_topic=received.topic,
        source_partition=received.partition,
        source_offset=received.offset,
        processor_version=processor_version,
        failed_at=now,
    )
