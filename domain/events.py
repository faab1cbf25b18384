"""The user events of the wire contract, as frozen pydantic models.

`UserEvent` is a discriminated union on `event_type`: `parse_event` validates raw
JSON bytes into exactly one of the concrete event classes in a single pass.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

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


Money = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False)]


class BaseEvent(BaseModel):
    """Fields every event carries; `extra="forbid"` so typos are reported, not lost.

    Strict: a number sent as a string is a client bug to see in failed_events, not
    to paper over. JSON strings still parse into UUIDs, datetimes and decimals.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    event_id: UUID
    user_id: str = Field(min_length=1, max_length=50)
    session_id: UUID
    timestamp: AwareDatetime
    device: Device
    country: str
    value: Money | None = None
    sent_at: AwareDatetime | None = None

    @field_validator("country")
    @classmethod
    def _known_country(cls, country: str) -> str:
        if country not in ISO_3166_ALPHA2:
            raise ValueError(f"{country!r} is not an upper-case ISO-3166 alpha-2 code")
        return country

    @property
    def is_purchase(self) -> bool:
        return self.event_type == EventType.PURCHASE  # type: ignore[attr-defined]

    def data_dict(self) -> dict[str, Any]:
        data: EventData = self.data  # type: ignore[attr-defined]
        return data.model_dump(mode="json", exclude_none=True)


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
