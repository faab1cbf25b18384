"""Payload-level rules: extra data keys kept, size limit, deserialize errors, NUL."""

from __future__ import annotations

import pytest

from domain.failures import ErrorType
from domain.validation import MAX_EVENT_BYTES, parse_event
from tests.factories import event_doc
from tests.unit.event_cases import CONCRETE_CLASSES, Doc, encode, put, put_data, rejection

# --- extra data keys are kept --------------------------------------------------------


@pytest.mark.parametrize("event_type", list(CONCRETE_CLASSES), ids=list(CONCRETE_CLASSES))
def test_unknown_keys_inside_data_are_kept(event_type):
    doc = event_doc(event_type)
    doc["data"]["utm_source"] = "newsletter"
    doc["data"]["ab"] = {"variant": "B", "weights": [1, 2]}

    event = parse_event(encode(doc))

    assert event.data_dict()["utm_source"] == "newsletter"
    assert event.data_dict()["ab"] == {"variant": "B", "weights": [1, 2]}
    assert event.data_dict() == doc["data"]


# --- size ----------------------------------------------------------------------------


def _oversize_doc() -> Doc:
    doc = event_doc()  # event_id comes first, as producers write it
    doc["data"]["padding"] = "x" * (MAX_EVENT_BYTES + 10)
    return doc


def test_payload_over_one_megabyte_is_a_size_error():
    raw = encode(_oversize_doc())
    assert len(raw) > MAX_EVENT_BYTES

    error = rejection(raw)

    assert error.error_type == ErrorType.SIZE
    assert str(len(raw)) in error.reason


def test_size_error_still_names_the_event_id_when_present():
    doc = _oversize_doc()

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SIZE
    assert error.event_id == doc["event_id"]


def test_size_error_without_an_event_id_has_none():
    doc = _oversize_doc()
    del doc["event_id"]

    error = rejection(encode(doc))

    assert error.error_type == ErrorType.SIZE
    assert error.event_id is None


def test_oversize_garbage_is_a_size_error_not_a_crash():
    error = rejection(b"\xff" * (MAX_EVENT_BYTES + 1))

    assert error.error_type == ErrorType.SIZE
    assert error.event_id is None


def test_payload_of_exactly_one_megabyte_is_not_a_size_error():
    doc = event_doc()
    doc["data"]["padding"] = ""
    doc["data"]["padding"] = "x" * (MAX_EVENT_BYTES - len(encode(doc)))
    raw = encode(doc)
    assert len(raw) == MAX_EVENT_BYTES

    event = parse_event(raw)

    assert len(event.data_dict()["padding"]) > 1_000_000


# --- deserialize ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(encode(event_doc()).replace(b"user_1", b"user_\xff"), id="invalid-utf8-inside-a-valid-event"),
        pytest.param(b'{"user_id": "\xc3\x28"}', id="invalid-utf8-sequence"),
        pytest.param(b"\xff\xfe" + encode(event_doc()), id="non-utf8-bytes-before-the-object"),
        pytest.param(encode([event_doc()]), id="json-array"),
        pytest.param(b"[]", id="empty-json-array"),
        pytest.param(b'"page_view"', id="json-string"),
        pytest.param(b"42", id="json-number"),
        pytest.param(b"null", id="json-null"),
        pytest.param(b"true", id="json-bool"),
        pytest.param(b"", id="empty-payload"),
        pytest.param(b"   ", id="whitespace-only"),
        pytest.param(b"{oops", id="not-json"),
        pytest.param(b"user_id=1&device=mobile", id="form-encoded"),
        pytest.param(encode(event_doc())[:-1], id="cut-short"),
        pytest.param(encode(event_doc()) + b"}", id="trailing-garbage"),
    ],
)
def test_payload_that_is_not_a_utf8_json_object_is_a_deserialize_error(raw):
    error = rejection(raw)

    assert error.error_type == ErrorType.DESERIALIZE
    assert error.reason


# --- NUL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(put(user_id="user\x001"), id="in-user_id"),
        pytest.param(put_data(page="/home\x00"), id="in-data-field"),
        pytest.param(put_data(extra={"nested": ["ok", "a\x00b"]}), id="in-nested-extra-data"),
        pytest.param(put_data(**{"key\x00": "v"}), id="in-a-data-key"),
    ],
)
def test_text_containing_nul_is_a_schema_error(mutation):
    doc = event_doc()
    mutation(doc)
    raw = encode(doc)
    assert b"\\u0000" in raw  # json escapes the NUL; no raw NUL byte on the wire

    error = rejection(raw)

    assert error.error_type == ErrorType.SCHEMA
    assert "NUL" in error.reason
    assert error.event_id == doc["event_id"]


def test_unescaped_nul_byte_inside_a_string_is_not_json():
    raw = encode(event_doc()).replace(b"user_1", b"user\x001")

    error = rejection(raw)

    assert error.error_type == ErrorType.DESERIALIZE


@pytest.mark.parametrize(
    "mutation",
    [
        pytest.param(put(user_id="a\\u0000b"), id="in-user_id"),
        pytest.param(put_data(page="C:\\u0000\\dir"), id="in-data"),
    ],
)
def test_literal_backslash_u0000_text_is_not_a_nul_and_is_accepted(mutation):
    doc = event_doc()
    mutation(doc)
    raw = encode(doc)
    assert b"\\\\u0000" in raw  # an escaped backslash followed by the letters u0000

    event = parse_event(raw)

    assert event.user_id == doc["user_id"]
    assert event.data_dict() == doc["data"]
