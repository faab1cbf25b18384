"""The user events of the wire contract, as frozen pydantic models.

`UserEvent` is a discriminated union on `event_type`: `parse_event` validates raw
JSON bytes into exactly one of the concrete event classes in a single pass. `Event` is
what processing reads of an event, whichever decoder made it (the dataflow's log decoder
builds lighter objects of its own, `adapters.wire.events`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Protocol
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from domain.countries import ISO_3166_ALPHA2


class Device(StrEnum):
    MOBILE = "mobile"
    DESKTOP = "desktop"
    TABLET = "tablet"
    TV = "tv"
    OTHER = "other"


class EventType(StrEnum):
    PAGE_VIEW = "page_view"
    CLICK = "click"
    SEARCH = "search"
    VIDEO_WATCH = "video_watch"
    PURCHASE = "purchase"
    SIGNUP = "signup"
    LOGIN = "login"
    LOGOUT = "logout"


class EventData(BaseModel):
    """Type-specific payload; unknown keys are kept (contract: "extra keys are kept")."""

    model_config = ConfigDict(frozen=True, strict=True, extra="allow")


class PageViewData(EventData):
    page: str
    referrer: str | None = None


class ClickData(EventData):
    page: str
    element: str


class SearchData(EventData):
    query: str
    results_count: int = Field(ge=0)


class VideoWatchData(EventData):
    video_id: str
    watch_seconds: float = Field(ge=0, allow_inf_nan=False)


class PurchaseData(EventData):
    product_id: str
    quantity: int = Field(ge=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


_JSON_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def _decimal_input(value: object) -> object:
    # The JSON types a decimal may come as; a string must be spelled as a JSON number (the
    # decimal module alone would also take " 19.99 ", "1_000" and "NaN").
    if isinstance(value, str):
        if not _JSON_NUMBER.fullmatch(value):
            raise ValueError(f'{value[:40]!r} is not a decimal number like "19.99"')
    elif isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError('must be a number or a decimal string like "19.99"')
    return value


# The checks above are the strict ones; the lax parse after them only turns text into a
# Decimal (a before-validator hands on a Python str, which strict mode would refuse).
Money = Annotated[
    Decimal,
    BeforeValidator(_decimal_input),
    Field(strict=False, ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False),
]

# Any instant in this range can be shown in every time zone (offsets are under a day)
# without leaving Python's calendar.
EARLIEST_TIME = datetime(1, 1, 2, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)


class _IsoDateTime:
    """An aware datetime in that range, which JSON must spell in ISO-8601: even strict mode
    reads a string of digits ("1764237600") as Unix seconds. Checked inside the parser: a
    Python validator here would cost more than validating all the rest of the event."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        moment = core_schema.datetime_schema(tz_constraint="aware", strict=False, ge=EARLIEST_TIME, le=LATEST_TIME)
        iso_text = core_schema.custom_error_schema(
            core_schema.str_schema(pattern=r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}"),
            custom_error_type="iso_date_time",
            custom_error_message="Input should be an ISO-8601 date-time like 2026-11-27T10:00:00+01:00",
        )
        # Read back from a store, it is a datetime already.
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([iso_text, moment]), python_schema=moment
        )


EventTime = Annotated[datetime, _IsoDateTime()]


class _CountryCode:
    """One of the 249 codes, checked inside the parser: as a Python validator the check cost a
    fifth of validating the whole event. The message names the rule, not all 249 codes."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.literal_schema(sorted(ISO_3166_ALPHA2)),
            custom_error_type="country_code",
            custom_error_message="Input should be an upper-case ISO-3166 alpha-2 country code like 'US'",
        )


CountryCode = Annotated[str, _CountryCode()]


class BaseEvent(BaseModel):
    """Fields every event carries; `extra="forbid"` so typos are reported, not lost.

    Strict: a number sent as a string is a client bug to see in failed_events, not
    to paper over. JSON strings still parse into UUIDs, datetimes and decimals.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    event_id: UUID
    user_id: str = Field(min_length=1, max_length=50)
    session_id: UUID
    timestamp: EventTime
    device: Device
    country: CountryCode
    value: Money | None = None
    sent_at: EventTime | None = None

    @property
    def is_purchase(self) -> bool:
        return self.event_type == EventType.PURCHASE  # type: ignore[attr-defined]

    def data_dict(self) -> dict[str, Any]:
        data: EventData = self.data  # type: ignore[attr-defined]
        return data.model_dump(mode="json", exclude_unset=True)  # as sent: a null the client set is kept

    def data_json(self) -> str:
        """`data` as JSON text, for the store: the keys the client set, a null it sent included."""
        data: EventData = self.data  # type: ignore[attr-defined]
        return data.model_dump_json(exclude_unset=True)


class PageViewEvent(BaseEvent):
    event_type: Literal[EventType.PAGE_VIEW]
    data: PageViewData


class ClickEvent(BaseEvent):
    event_type: Literal[EventType.CLICK]
    data: ClickData


class SearchEvent(BaseEvent):
    event_type: Literal[EventType.SEARCH]
    data: SearchData


class VideoWatchEvent(BaseEvent):
    event_type: Literal[EventType.VIDEO_WATCH]
    data: VideoWatchData


class PurchaseEvent(BaseEvent):
    event_type: Literal[EventType.PURCHASE]
    value: Money  # required for purchases
    data: PurchaseData


class SignupEvent(BaseEvent):
    event_type: Literal[EventType.SIGNUP]
    data: EventData = EventData()


class LoginEvent(BaseEvent):
    event_type: Literal[EventType.LOGIN]
    data: EventData = EventData()


class LogoutEvent(BaseEvent):
    event_type: Literal[EventType.LOGOUT]
    data: EventData = EventData()


UserEvent = Annotated[
    PageViewEvent | ClickEvent | SearchEvent | VideoWatchEvent | PurchaseEvent | SignupEvent | LoginEvent | LogoutEvent,
    Field(discriminator="event_type"),
]


class Event(Protocol):
    """What processing reads of a valid event: the models above satisfy it, and so do the lighter
    objects the dataflow's log decoder builds (`adapters.wire.events`), validated to the same rules."""

    @property
    def event_id(self) -> UUID: ...
    @property
    def user_id(self) -> str: ...
    @property
    def session_id(self) -> UUID: ...
    @property
    def event_type(self) -> EventType: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def device(self) -> Device: ...
    @property
    def country(self) -> str: ...
    @property
    def value(self) -> Decimal | None: ...
    @property
    def sent_at(self) -> datetime | None: ...

    def data_json(self) -> str:
        """`data` as JSON text: every key the client set."""
        ...


class PastEvent(NamedTuple):
    """A stored event as a user's feature state is rebuilt from it (`domain.features.observe`):
    what happened, when and where, without the payload, which rebuilding never reads. Read back
    as a validated model instead, a stored event cost about 36 us; built from its row, under 1."""

    event_id: UUID
    user_id: str
    session_id: UUID
    event_type: EventType
    device: Device
    country: str
    value: Decimal | None

    @classmethod
    def of(cls, event: Event) -> PastEvent:
        return cls(event.event_id, event.user_id, event.session_id, event.event_type, event.device, event.country,
                   event.value)  # fmt: skip
