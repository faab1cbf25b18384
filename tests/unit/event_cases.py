"""Building blocks for event validation tests: encode, mutate, the concrete classes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from domain.errors import InvalidEvent
from domain.events import (
    ClickEvent,
    LoginEvent,
    LogoutEvent,
    PageViewEvent,
    PurchaseEvent,
    SearchEvent,
    SignupEvent,
    VideoWatchEvent,
)
from domain.validation import parse_event

Doc = dict[str, Any]
Mutation = Callable[[Doc], None]


def encode(doc: Any) -> bytes:
    # json.dumps writes NaN / Infinity tokens for float('nan') / float('inf'): that is the point.
    return json.dumps(doc).encode("utf-8")


def rejection(raw: bytes) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    return caught.value


# --- mutations of a valid document, so each case says only what is wrong -------------


def drop(key: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        del doc[key]

    return mutate


def drop_data(key: str) -> Mutation:
    def mutate(doc: Doc) -> None:
        del doc["data"][key]

    return mutate


def put(**fields: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        doc.update(fields)

    return mutate


def put_data(**fields: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        doc["data"].update(fields)

    return mutate


CONCRETE_CLASSES = {
    "page_view": PageViewEvent,
    "click": ClickEvent,
    "search": SearchEvent,
    "video_watch": VideoWatchEvent,
    "purchase": PurchaseEvent,
    "signup": SignupEvent,
    "login": LoginEvent,
    "logout": LogoutEvent,
}
