"""/v1/events: the collector (POST) and event queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, FromQuery, HeaderParameter, QueryParameter, RawBody
from pydantic import BaseModel

from application.collector import MAX_BATCH, collect, split_body
from application.ports.queries import EventFilter
from application.views import EventView, Page
from domain.errors import NotFound
from entrypoints.api.auth import API_KEY_HEADER, Role, key_fingerprint, requires
from entrypoints.api.deps import CollectorDep, Queries
from entrypoints.api.errors import ERROR_RESPONSES

MAX_BODY_BYTES = 1_048_576  # contract: request bodies over 1 MB are answered 413
Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, QueryParameter(name="cursor", description="`next_cursor` of the previous page")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",  # visible ASCII, as the IETF draft's examples (a UUID is ideal)
        description="The same key on a retry: its invalid events are dead-lettered once, not per attempt",
    ),
]


class RejectedEvent(BaseModel):
    index: int
    error: str


class Accepted(BaseModel):
    accepted: int
    rejected: list[RejectedEvent]


@dataclass
class CollectOperation(Operation):
    """The handler reads the raw body (for exact per-event errors); this documents its shape."""

    def __post_init__(self) -> None:
        event = Schema(type=OpenAPIType.OBJECT, description="an event of the wire contract")
        batch = Schema(type=OpenAPIType.ARRAY, items=event, max_items=MAX_BATCH)
        self.request_body = RequestBody(
            content={"application/json": OpenAPIMediaType(schema=Schema(one_of=[event, batch]))}, required=True
        )


class EventsController(Controller):
    path = "/v1/events"
    tags = ["events"]

    @post(
        "/",
        responses=ERROR_RESPONSES,
        operation_id="collectEvents",
        summary="Collect one event or a JSON list of up to 1000",
        guards=[requires(Role.INGEST)],
        status_code=202,
        sync_to_thread=True,
        request_max_body_size=MAX_BODY_BYTES,
        operation_class=CollectOperation,
    )
    def collect_events(
        self, collector: CollectorDep, body: RawBody, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Accepted:
        """Valid events are in Kafka (acknowledged) when this answers; invalid ones are dead-lettered
        and reported by index. The body is an event object or a JSON array of at most 1000.
        Retry with the same `Idempotency-Key`: events are stored once by their id anyway, and
        with the key the invalid ones are dead-lettered once too."""
        request_key = None
        if idempotency_key is not None:  # scoped by API key: two clients' keys never collide
            request_key = f"{key_fingerprint(request.headers.get(API_KEY_HEADER))}:{idempotency_key}"
        result = collect(
            split_body(body),
            publisher=collector.publisher,
            topic=collector.topic,
            start_unit_of_work=collector.start_unit_of_work,
            processor_version=collector.version,
            now=datetime.now(UTC),
            request_key=request_key,
        )
        return Accepted(
            accepted=result.accepted,
            rejected=[RejectedEvent(index=r.index, error=r.error) for r in result.rejected],
        )

    @get("/", responses=ERROR_RESPONSES, operation_id="listEvents", guards=[requires(Role.READ)], sync_to_thread=True)
    def list_events(
        self,
        queries: Queries,
        user_id: FromQuery[str | None] = None,
        event_type: FromQuery[str | None] = None,
        country: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Page[EventView]:
        """Events, newest event time first; filters combine."""
        filters = EventFilter(user_id, event_type, country, since, until)
        return queries.events(filters, limit, cursor)

    @get(
        "/{event_id:uuid}",
        responses=ERROR_RESPONSES,
        operation_id="getEvent",
        guards=[requires(Role.READ)],
        sync_to_thread=True,
    )
    def get_event(self, queries: Queries, event_id: FromPath[UUID]) -> EventView:
        """One event, with its anomaly score."""
        event = queries.event(event_id)
        if event is None:
            raise NotFound(f"no event {event_id}")
        return event
