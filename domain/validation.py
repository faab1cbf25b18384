"""Turn raw bytes into a `UserEvent`, or say precisely why not."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, NoReturn

from pydantic import TypeAdapter, ValidationError

from domain.errors import InvalidEvent
from domain.events import EventType, UserEvent
from domain.failures import ErrorType

MAX_EVENT_BYTES = 1_048_576  # contract: payloads above 1 MB are dead-lettered as `size`
_MAX_REASONS = 5
_DESERIALIZE_ERRORS = frozenset({"json_invalid", "json_type", "dict_type", "model_attributes_type"})
_EVENT_TYPES = ", ".join(t.value for t in EventType)

USER_EVENT: TypeAdapter[UserEvent] = TypeAdapter(UserEvent)
_VALIDATE_JSON = USER_EVENT.validator.validate_json  # without the adapter's Python wrapper: this runs per event


def parse_event(raw: bytes, *, max_bytes: int = MAX_EVENT_BYTES) -> UserEvent:
    """Validate one wire payload (JSON bytes) into its concrete event class.

    Raises `InvalidEvent` with `deserialize` (not a JSON object), `size` (too big) or
    `schema` (any contract violation), and a reason naming every offending field.
    """
    if len(raw) > max_bytes:
        raise InvalidEvent(
            ErrorType.SIZE,
            f"payload is {len(raw)} bytes, above the {max_bytes}-byte limit",
            event_id=_leading_event_id(raw[:4096]),
        )
    try:
        event = _VALIDATE_JSON(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        top_level = [e for e in errors if not e["loc"] or e["type"] == "json_invalid"]
        if top_level and top_level[0]["type"] in _DESERIALIZE_ERRORS:
            raise InvalidEvent(ErrorType.DESERIALIZE, _describe(top_level)) from None
        raise InvalidEvent(ErrorType.SCHEMA, _describe(errors), event_id=_peek_event_id(raw)) from None
    _check_what_the_schema_lets_through(raw, event)
    return event


def _check_what_the_schema_lets_through(raw: bytes, event: UserEvent) -> None:
    """Rules the parser cannot express. Each starts with a test costing nanoseconds and
    re-reads the payload only for the rare event that may break it."""
    if b"\\u0000" in raw and _holds_nul(_reread(raw)):
        _invalid(event, "text contains NUL (\\u0000), which cannot be stored")
    if event.value is not None and _VALUE_AS_NUMBER.search(raw):
        sent = _reread(raw, parse_float=Decimal).get("value")
        if isinstance(sent, Decimal) and sent != event.value:
            _invalid(event, f"value: {str(sent)[:40]} cannot be stored exactly (at most 15 digits, 2 decimal places)")
    extra = event.data.__pydantic_extra__  # type: ignore[union-attr]
    if extra and not _finite(extra):
        _invalid(event, "data: NaN or an infinite number, which JSON cannot carry")


def _invalid(event: UserEvent, reason: str) -> NoReturn:
    raise InvalidEvent(ErrorType.SCHEMA, reason, str(event.event_id))


# The parser reads a JSON number through a double, so `value: 0.1000000000000000001` would
# pass as 0.1; money sent as a number is re-read exactly (clients mostly send strings).
_VALUE_AS_NUMBER = re.compile(rb'"value"\s*:\s*-?[0-9]')


def _reread(raw: bytes, **options: Any) -> Any:
    """The payload parsed again by the standard library, for the rare checks above."""
    try:
        return json.loads(raw, **options)
    except (ValueError, RecursionError) as error:  # where the two parsers disagree, trust neither
        raise InvalidEvent(ErrorType.DESERIALIZE, f"Invalid JSON: {error}") from None


def _finite(node: object) -> bool:
    # The parser reads NaN, Infinity and 1e400 as floats that JSON and Postgres cannot hold:
    # stored, an unknown key's value would silently turn into null.
    if isinstance(node, float):
        return math.isfinite(node)
    if isinstance(node, dict):
        return all(_finite(v) for v in node.values())
    if isinstance(node, list):
        return all(_finite(v) for v in node)
    return True


def _holds_nul(node: object) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_holds_nul(v) for v in node)
    return False


def _describe(errors: list) -> str:
    parts = []
    for error in errors[:_MAX_REASONS]:
        if error["type"] == "union_tag_not_found":
            parts.append("event_type: Field required")
            continue
        if error["type"] == "union_tag_invalid":
            parts.append(f"event_type: {error['ctx']['tag']!r} is not one of {_EVENT_TYPES}")
            continue
        # The discriminator's tag ('purchase') is noise in a location path.
        loc = ".".join(str(p) for p in error["loc"][1:] if p) if len(error["loc"]) > 1 else ""
        loc = loc or ".".join(str(p) for p in error["loc"])
        parts.append(f"{loc}: {error['msg']}" if loc else error["msg"])
    more = len(errors) - _MAX_REASONS
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


_EVENT_ID_FIELD = re.compile(rb'"event_id"\s*:\s*"([^"\\]{1,64})"')


def _leading_event_id(head: bytes) -> str | None:
    """The event_id near the start of a payload too big (or broken) to parse whole."""
    match = _EVENT_ID_FIELD.search(head)
    return match.group(1).decode("utf-8", errors="replace") if match else None


def _peek_event_id(raw: bytes) -> str | None:
    """Best effort: the event_id of an invalid payload, so a dead letter can be traced."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and isinstance(doc.get("event_id"), str):
        return doc["event_id"][:64]
    return None
