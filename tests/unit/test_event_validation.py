"""The wire contract, as `parse_event` enforces it: what is an event, and why not."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import pytest

from domain.events import (
    EventType,
)
from domain.failures import ErrorType
from domain.validation import parse_event
from tests.factories import event_doc
from tests.unit.event_cases import CONCRETE_CLASSES, drop, drop_data, encode, put, put_data, rejection

# --- every event type is valid ---------------------------------------------------------


def test_the_contract_lists_exactly_eight_event_types():
    assert {t.value for t in EventType} == set(CONCRETE_CLASSES)


@pytest.mark.parametrize(("event_type", "concrete"), list(CONCRETE_CLASSES.items()), ids=list(CONCRETE_CLASSES))
def test_valid_event_of_each_type_parses_into_its_concrete_class(event_type, concrete):
    doc = event_doc(event_type)

    event = parse_event(encode(doc))

    assert type(event) is concrete
    assert event.event_type == event_type
    assert event.event_id == UUID(doc["event_id"])
    assert event.session_id == UUID(doc["session_id"])
    assert event.user_id == doc["user_id"]
    assert event.timestamp == datetime.fromisoformat(doc["timestamp"])
    assert event.device == doc["device"]
    assert event.country == doc["country"]
    assert event.data_dict() == doc["data"]


def test_purchase_value_is_an_exact_decimal():
    event = parse_event(encode(event_doc("purchase", value="19.99")))

    assert event.value == Decimal("19.99")
    assert isinstance(event.value, Decimal)
    assert event.is_purchase


@pytest.mark.parametrize("event_type", ["signup", "login", "logout"])
def test_event_types_without_required_data_may_omit_data(event_type):
    doc = event_doc(event_type)
    del doc["data"]

    event = parse_event(encode(doc))

    assert type(event) is CONCRETE_CLASSES[event_type]
    assert event.data_dict() == {}


VALID = [
    pytest.param("page_view", put(user_id="u" * 50), id="user_id-50-chars"),
    pytest.param("page_view", put(user_id="u"), id="user_id-1-char"),
    pytest.param("page_view", put(timestamp="2026-11-27T10:00:00Z"), id="timestamp-zulu"),
    pytest.param("page_view", put(timestamp="2026-11-27T10:00:00+05:30"), id="timestamp-positive-offset"),
    pytest.param("page_view", put(sent_at="2026-11-27T10:00:01-03:00"), id="optional-sent_at"),
    pytest.param("page_view", put_data(referrer="https://example.com"), id="optional-referrer"),
    pytest.param("page_view", put(value="0.50"), id="optional-value-on-non-purchase"),
    pytest.param("purchase", put(value="0"), id="purchase-value-zero"),
    pytest.param("purchase", put(value="1234567890123.45"), id="purchase-value-15-digits"),
    pytest.param("purchase", put_data(quantity=1), id="quantity-one"),
    pytest.param("search", put_data(results_count=0), id="results_count-zero"),
    pytest.param("video_watch", put_data(watch_seconds=0), id="watch_seconds-zero"),
    pytest.param("video_watch", put_data(watch_seconds=30), id="watch_seconds-integer-is-a-number"),
    *[
        pytest.param("page_view", put(device=d), id=f"device-{d}")
        for d in ["mobile", "desktop", "tablet", "tv", "other"]
    ],
    pytest.param("page_view", put(country="GB"), id="country-GB"),
]


@pytest.mark.parametrize(("event_type", "mutation"), VALID)
def test_boundary_values_inside_the_contract_are_accepted(event_type, mutation):
    doc = event_doc(event_type)
    mutation(doc)

    event = parse_event(encode(doc))

    assert type(event) is CONCRETE_CLASSES[event_type]


# --- invalid, per type and per field ----------------------------------------------------

INVALID = [
    # required data fields, per type
    pytest.param("page_view", drop("data"), "data", id="page_view-without-data"),
    pytest.param("page_view", drop_data("page"), "data.page", id="page_view-without-page"),
    pytest.param("click", drop("data"), "data", id="click-without-data"),
    pytest.param("click", drop_data("page"), "data.page", id="click-without-page"),
    pytest.param("click", drop_data("element"), "data.element", id="click-without-element"),
    pytest.param("search", drop("data"), "data", id="search-without-data"),
    pytest.param("search", drop_data("query"), "data.query", id="search-without-query"),
    pytest.param("search", drop_data("results_count"), "data.results_count", id="search-without-results_count"),
    pytest.param("search", put_data(results_count=-1), "data.results_count", id="search-negative-results_count"),
    pytest.param("video_watch", drop("data"), "data", id="video_watch-without-data"),
    pytest.param("video_watch", drop_data("video_id"), "data.video_id", id="video_watch-without-video_id"),
    pytest.param(
        "video_watch", drop_data("watch_seconds"), "data.watch_seconds", id="video_watch-without-watch_seconds"
    ),
    pytest.param("video_watch", put_data(watch_seconds=-0.5), "data.watch_seconds", id="video_watch-negative-seconds"),
    pytest.param("purchase", drop("data"), "data", id="purchase-without-data"),
    pytest.param("purchase", drop_data("product_id"), "data.product_id", id="purchase-without-product_id"),
    pytest.param("purchase", drop_data("quantity"), "data.quantity", id="purchase-without-quantity"),
    pytest.param("purchase", drop_data("currency"), "data.currency", id="purchase-without-currency"),
    pytest.param("purchase", put_data(quantity=0), "data.quantity", id="purchase-quantity-zero"),
    pytest.param("purchase", put_data(currency="usd"), "data.currency", id="purchase-lower-case-currency"),
    pytest.param("purchase", put_data(currency="US"), "data.currency", id="purchase-two-letter-currency"),
    pytest.param("purchase", put_data(currency="USDX"), "data.currency", id="purchase-four-letter-currency"),
    pytest.param("signup", put(data=[]), "data", id="signup-data-not-an-object"),
    # value
    pytest.param("purchase", drop("value"), "value", id="purchase-without-value"),
    pytest.param("purchase", put(value=None), "value", id="purchase-null-value"),
    pytest.param("purchase", put(value="-0.01"), "value", id="negative-value"),
    pytest.param("page_view", put(value="-1"), "value", id="negative-value-on-non-purchase"),
    pytest.param("purchase", put(value="19.999"), "value", id="value-three-decimals"),
    pytest.param("purchase", put(value="12345678901234.56"), "value", id="value-16-digits"),
    pytest.param("purchase", put(value="abc"), "value", id="value-not-a-number"),
    # common fields
    pytest.param("page_view", put(country="us"), "country", id="lower-case-country"),
    pytest.param("page_view", put(country="XX"), "country", id="unknown-country-XX"),
    pytest.param("page_view", put(country="USA"), "country", id="alpha-3-country"),
    pytest.param("page_view", put(country=""), "country", id="empty-country"),
    pytest.param("page_view", put(device="phone"), "device", id="unknown-device"),
    pytest.param("page_view", put(device="Mobile"), "device", id="capitalised-device"),
    pytest.param("page_view", put(timestamp="2026-11-27T10:00:00"), "timestamp", id="naive-timestamp"),
    pytest.param("page_view", put(timestamp="yesterday"), "timestamp", id="timestamp-not-a-date"),
    pytest.param("page_view", put(sent_at="2026-11-27T10:00:00"), "sent_at", id="naive-sent_at"),
    pytest.param("page_view", put(user_id=""), "user_id", id="empty-user_id"),
    pytest.param("page_view", put(user_id="u" * 51), "user_id", id="user_id-51-chars"),
    pytest.param("page_view", put(event_id="not-a-uuid"), "event_id", id="bad-event_id"),
    pytest.param("page_view", put(event_id="1234"), "event_id", id="short-event_id"),
    pytest.param("page_view", put(session_id="not-a-uuid"), "session_id", id="bad-session_id"),
    pytest.param("page_view", put(session_id=""), "session_id", id="empty-session_id"),
    # wrong JSON types (strict: no coercion)
    pytest.param("page_view", put(user_id=5), "user_id", id="user_id-number"),
    pytest.param("page_view", put(event_id=5), "event_id", id="event_id-number"),
    pytest.param("page_view", put(timestamp=1_700_000_000), "timestamp", id="timestamp-epoch-number"),
    pytest.param("page_view", put(device=1), "device", id="device-number"),
    pytest.param("page_view", put(country=["US"]), "country", id="country-list"),
    pytest.param("purchase", put(value=True), "value", id="value-bool"),
    pytest.param("purchase", put_data(quantity="2"), "data.quantity", id="quantity-string"),
    pytest.param("purchase", put_data(quantity=True), "data.quantity", id="quantity-bool"),
    pytest.param("purchase", put_data(quantity=2.5), "data.quantity", id="quantity-fraction"),
    pytest.param("search", put_data(results_count="3"), "data.results_count", id="results_count-string"),
    pytest.param("video_watch", put_data(watch_seconds="12.5"), "data.watch_seconds", id="watch_seconds-string"),
    pytest.param("click", put_data(page=5), "data.page", id="page-number"),
    pytest.param("page_view", put_data(referrer=7), "data.referrer", id="referrer-number"),
    pytest.param("page_view", put(data="home"), "data", id="data-string"),
    # NaN / Infinity
    pytest.param("video_watch", put_data(watch_seconds=float("nan")), "data.watch_seconds", id="watch_seconds-NaN"),
    pytest.param(
        "video_watch", put_data(watch_seconds=float("inf")), "data.watch_seconds", id="watch_seconds-Infinity"
    ),
    pytest.param(
        "video_watch", put_data(watch_seconds=float("-inf")), "data.watch_seconds", id="watch_seconds-minus-Infinity"
    ),
    pytest.param("purchase", put(value=float("nan")), "value", id="value-NaN-token"),
    pytest.param("purchase", put(value=float("inf")), "value", id="value-Infinity-token"),
    pytest.param("purchase", put(value="NaN"), "value", id="value-NaN-string"),
    pytest.param("purchase", put(value="Infinity"), "value", id="value-Infinity-string"),
    # top level
    pytest.param("page_view", put(colour="red"), "colour", id="unknown-top-level-key"),
    pytest.param("page_view", put(userId="user_1"), "userId", id="misspelt-top-level-key"),
]


@pytest.mark.parametrize(("event_type", "mutation", "field"), INVALID)
def test_invalid_field_is_a_schema_error_naming_the_field(event_type, mutation, field):
    doc = event_doc(event_type)
    mutation(doc)

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SCHEMA
    assert f"{field}:" in error.reason, error.reason


@pytest.mark.parametrize("required", ["event_id", "user_id", "session_id", "timestamp", "device", "country"])
def test_missing_required_top_level_field_is_a_schema_error_naming_it(required):
    doc = event_doc()
    del doc[required]

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SCHEMA
    assert f"{required}: Field required" in error.reason, error.reason


def test_unknown_event_type_is_a_schema_error_listing_the_known_types():
    doc = event_doc()
    doc["event_type"] = "hover"

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SCHEMA
    assert error.reason.startswith("event_type:"), error.reason
    assert "'hover'" in error.reason
    for known in EventType:
        assert known.value in error.reason


def test_missing_event_type_is_a_schema_error():
    doc = event_doc()
    del doc["event_type"]

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SCHEMA
    assert "event_type: Field required" in error.reason


def test_event_type_of_the_wrong_json_type_is_a_schema_error():
    error = rejection(encode(event_doc() | {"event_type": 5}))

    assert error.error_type == ErrorType.SCHEMA
    assert error.reason.startswith("event_type:")


def test_schema_error_keeps_the_event_id_for_tracing():
    doc = event_doc(device="phone")

    error = rejection(encode(doc))

    assert error.event_id == doc["event_id"]


def test_every_offending_field_is_named():
    doc = event_doc("purchase", user_id="", device="phone", country="us")
    doc["data"]["quantity"] = "2"

    error = rejection(encode(doc))

    for field in ("user_id:", "device:", "country:", "data.quantity:"):
        assert field in error.reason, error.reason


def test_reason_of_a_very_broken_event_stays_short():
    doc = {key: ["wrong"] for key in event_doc()} | {"event_type": "page_view"}

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SCHEMA
    assert "more" in error.reason  # capped, with a count of the rest
    assert len(error.reason) < 1000
