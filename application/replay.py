"""Event sourcing at work: rebuild every projection from the event log, and re-feed dead letters."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from application.ingest import UnitOfWorkFactory
from application.messages import TimingRules
from application.ports.event_log import EventPublisher
from application.projecting import apply_projections

REPLAY_PAGE = 5000


def rebuild_projections(
    start_unit_of_work: UnitOfWorkFactory,
    rules: TimingRules = TimingRules(),
    *,
    on_progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Empty the projections and feed every stored event to them again, in log order.

    It runs the same code as live ingestion over the stored event-time verdicts, in one
    transaction: readers see the old projections until the new ones are complete.
    Stop the dataflow while it runs. Returns the number of events replayed.
    """
    done = 0
    with start_unit_of_work() as uow:
        uow.clear_projections()
        for page in uow.events.in_log_order(REPLAY_PAGE):
            apply_projections(uow, page, rules)
            done += len(page)
            on_progress(done)
        uow.commit()
    return done


@dataclass(frozen=True)
class DeadLetterReplay:
    replayed: int
    topic: str


def replay_dead_letters(
    start_unit_of_work: UnitOfWorkFactory,
    publisher: EventPublisher,
    topic: str,
    *,
    error_type: str | None,
    now: datetime,
    page: int = 1000,
) -> DeadLetterReplay:
    """Send dead letters (as stored, possibly fixed in place) through the log again.

    The dataflow validates them anew: fixed ones are stored (once: event ids dedupe),
    still-broken ones are dead-lettered again. Each dead letter is replayed once; it
    is marked only after the log acknowledged it.
    """
    replayed = 0
    while True:
        with start_unit_of_work() as uow:
            pending = uow.dead_letters.pending_replay(error_type, page)
            if not pending:
                return DeadLetterReplay(replayed, topic)
            for failure in pending:
                raw = (
                    failure.raw_data.encode() if failure.raw_encoding == "utf-8" else base64.b64decode(failure.raw_data)
                )
                publisher.publish(topic, _user_key(raw), raw, [("x-dead-letter-id", str(failure.id).encode())])
            report = publisher.flush()
            if report.pending:
                raise RuntimeError(f"{report.pending} replayed dead letters not acknowledged; nothing marked")
            uow.dead_letters.mark_replayed([f.id for f in pending], now)
            uow.commit()
            replayed += len(pending)


def _user_key(raw: bytes) -> bytes | None:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    user_id = doc.get("user_id") if isinstance(doc, dict) else None
    return user_id.encode() if isinstance(user_id, str) else None
