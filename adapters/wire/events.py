"""The dataflow's decoder of log records: msgspec for the usual event, pydantic for the rest.

Validating with the pydantic models (`domain.validation.parse_event`) cost 6.5 us an event, the
largest single cost of ingesting one. Most payloads are plain: a known event type, canonical
times, a small `data` object. msgspec decodes those into the slotted structs below, to the same
rules, in about 1.5 us (2.6 on average over generated traffic, purchases included). Anything else
(a `value`, so every purchase; a rejection by msgspec for any reason; escapes or numbers where the
two parsers could read differently) goes to `parse_event`, which decides as it always has: a
record is valid, and reads the same, whichever path took it, and a rejection names every
offending field. `tests/unit/test_wire_events.py` holds the decoders against each other over the
validation cases, the hostile corpus and fuzzed payloads.

The structs keep `data` as the JSON text the client sent (`msgspec.Raw`), checked against the
fields of its event type; that text is what the store keeps, where the pydantic path keeps
pydantic's serialization of the same values (`12` where pydantic writes `12.0`, say).
"""

from __future__ import annotations

import operator
import re
import sys
from datetime import datetime
from functools import reduce
from typing import Annotated, ClassVar, Literal
from uuid import UUID

import msgspec

from domain.countries import ISO_3166_ALPHA2
from domain.events import Device, Event, EventType
from domain.validation import MAX_EVENT_BYTES, parse_event

Time = Annotated[datetime, msgspec.Meta(tz=True)]
Country = Literal[tuple(sorted(ISO_3166_ALPHA2))]  # type: ignore[valid-type]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
_NOTHING = msgspec.Raw(b"{}")


class _Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="event_type"):
    """An event without `value` (a payload with one takes the pydantic path); the type is the tag."""

    event_type: ClassVar[EventType]
    event_id: UUID
    user_id: Text
    session_id: UUID
    timestamp: Time
    device: Device
    country: Country
    sent_at: Time | None = None

    value: ClassVar[None] = None

    def data_json(self) -> str:
        return bytes(self.data).decode()  # type: ignore[attr-defined]


class _WithData(_Event, frozen=True):
    data: msgspec.Raw


class _OptionalData(_Event, frozen=True):
    data: msgspec.Raw = _NOTHING


def _kind(base: type[_Event], event_type: EventType) -> type[_Event]:
    return type(f"Wire{event_type.name.title().replace('_', '')}", (base,), {"event_type": event_type},
                tag=event_type.value, frozen=True)  # fmt: skip


class _PageView(msgspec.Struct, forbid_unknown_fields=True):
    page: str
    referrer: str | None = None


class _Click(msgspec.Struct, forbid_unknown_fields=True):
    page: str
    element: str


class _Search(msgspec.Struct, forbid_unknown_fields=True):
    query: str
    results_count: Annotated[int, msgspec.Meta(ge=0)]


class _VideoWatch(msgspec.Struct, forbid_unknown_fields=True):
    video_id: str
    # Finite: 1e400 is out of range for msgspec, where pydantic would read infinity and refuse it.
    watch_seconds: Annotated[float, msgspec.Meta(ge=0, le=sys.float_info.max)]


# `data` with keys of its own (kept, but read by pydantic as it likes: 1e400 is infinity there, and
# refused) takes the pydantic path, as does every purchase; the known keys are scalars, so no nesting.
_DATA: dict[EventType, msgspec.json.Decoder | None] = {
    EventType.PAGE_VIEW: msgspec.json.Decoder(_PageView),
    EventType.CLICK: msgspec.json.Decoder(_Click),
    EventType.SEARCH: msgspec.json.Decoder(_Search),
    EventType.VIDEO_WATCH: msgspec.json.Decoder(_VideoWatch),
    EventType.SIGNUP: None,
    EventType.LOGIN: None,
    EventType.LOGOUT: None,
}
_KINDS = [_kind(_OptionalData if decoder is None else _WithData, kind) for kind, decoder in _DATA.items()]
_DECODE = msgspec.json.Decoder(reduce(operator.or_, _KINDS)).decode  # one pass, dispatched on event_type

# Where msgspec and pydantic could read the same bytes differently, or accept what the other
# refuses, pydantic alone decides: NUL and surrogate escapes, more than 6 digits of a second's
# fraction (msgspec rounds, pydantic truncates) and years at the ends of the calendar. Each test is
# a substring search or a regex with a literal start: one regex alternating over several patterns
# scanned a payload at 3.8 us, more than decoding it.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD])")
_LONG_FRACTION = re.compile(rb"\.\d{7}")


def decode_event(raw: bytes) -> Event:
    """`domain.validation.parse_event`, faster: the same events, values and rejections (`InvalidEvent`)."""
    if (
        len(raw) <= MAX_EVENT_BYTES
        and (b"\\u" not in raw or not _RISKY_ESCAPE.search(raw))
        and not _LONG_FRACTION.search(raw)
    ):
        try:
            event = _DECODE(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):  # deep nesting: pydantic's verdict
            event = None  # pydantic names every offending field, or accepts what msgspec would not
        if event is not None and _plain(event):
            return event
    return parse_event(raw)


def _plain(event: _Event) -> bool:
    """The checks the struct cannot express; False sends the payload to the pydantic path."""
    # Any instant of years 2-9998, in any offset, lies within [EARLIEST_TIME, LATEST_TIME]; pydantic
    # checks the exact bounds for the rare rest.
    if not 1 < event.timestamp.year < 9999 or (event.sent_at is not None and not 1 < event.sent_at.year < 9999):
        return False
    data = event.data  # type: ignore[attr-defined]
    decoder = _DATA[event.event_type]
    if decoder is None:
        return bytes(data) == b"{}"
    try:
        decoder.decode(data)  # exactly the known keys, of the right types
    except (msgspec.ValidationError, msgspec.DecodeError):  # a raw value is not checked for UTF-8 until here
        return False
    return True
