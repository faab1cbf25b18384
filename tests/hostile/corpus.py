"""Hostile input, as data: what careless or malicious clients send, and what must become of it.

Each case is the raw bytes of one Kafka record (or one HTTP body) and its outcome:

- through the log: `Stored` once with the payload's field values, `Duplicate` of an event id
  stored first (skipped: the first occurrence wins, see `application.messages.first_occurrences`
  and the events table's `ON CONFLICT DO NOTHING`), or `DeadLettered` with an `error_type`;
- through `POST /v1/events`: what the outcome implies (valid and duplicate events are
  accepted, dead letters are rejected by index with the same `error_type`), unless `http`
  says the whole body is `Refused` (422: not UTF-8 JSON; 413: over 1 MB).

Text that looks like an attack (SQL, script) is valid text: stored byte for byte, never run.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ---------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Stored:
    """A valid event: stored exactly once, with the values the payload gives."""


@dataclass(frozen=True)
class Duplicate:
    """A later record with the event id of case `of`: skipped, the first one stays as it was."""

    of: str


@dataclass(frozen=True)
class DeadLettered:
    error_type: str  # deserialize | schema | size | persist


@dataclass(frozen=True)
class Accepted:
    """HTTP: the item is published (202, counted in `accepted`)."""


@dataclass(frozen=True)
class Rejected:
    """HTTP: the item is reported in `rejected` (by index) and dead-lettered."""

    error_type: str


@dataclass(frozen=True)
class Refused:
    """HTTP: the whole body is answered with this 4xx; nothing is published or dead-lettered."""

    status: int


STORED = Stored()
ACCEPTED = Accepted()
NOT_JSON = Refused(422)


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    outcome: Stored | Duplicate | DeadLettered
    http: Accepted | Rejected | Refused | None = None
    headers: tuple[tuple[str, bytes], ...] = ()  # Kafka record headers (the HTTP path ignores them)

    @property
    def answer(self) -> Accepted | Rejected | Refused:
        """What `POST /v1/events` does with this payload."""
        if self.http is not None:
            return self.http
        if isinstance(self.outcome, DeadLettered):
            return Rejected(self.outcome.error_type)
        return ACCEPTED

    @property
    def is_json_list(self) -> bool:
        """Posted alone, a JSON array is a batch of its elements, not one item."""
        return self.raw.lstrip().startswith(b"[")


# What an error answer must never show: a stack trace, source paths, SQL or driver names.
# The checkout's own location counts as a source path, wherever it lies.
LEAKS = (
    "Traceback", 'File "', str(Path(__file__).resolve().parents[2]), "site-packages", ".py",
    "SELECT ", "INSERT ", "psycopg", "sqlalchemy",
)  # fmt: skip


def assert_clean_error(response: Any, status: int) -> None:
    """A refused body: this status, as JSON `{"status_code", "detail"}`, and nothing internal."""
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert body["status_code"] == status and isinstance(body["detail"], str) and body["detail"]
    assert not [leak for leak in LEAKS if leak in response.text], response.text[:500]


def dead(error_type: str, http: Accepted | Rejected | Refused | None = None) -> dict[str, Any]:
    return {"outcome": DeadLettered(error_type), "http": http}


# ---------------------------------------------------------------------------- building blocks

NAMESPACE = uuid.UUID("0b5e55ed-0000-4000-8000-000000000000")
T0 = "2026-11-27T10:00:00+00:00"
SQL = "'; DROP TABLE events; --"
SCRIPT = "<script>alert(1)</script>"
MAX_BYTES = 1_048_576
MAX_VALUE = "9999999999999.99"  # 15 digits, 2 decimals

DATA = {
    "page_view": {"page": "/home"},
    "click": {"page": "/home", "element": "buy"},
    "search": {"query": "shoes", "results_count": 3},
    "video_watch": {"video_id": "v1", "watch_seconds": 12.5},
    "purchase": {"product_id": "p1", "quantity": 1, "currency": "EUR"},
    "signup": {},
    "login": {},
    "logout": {},
}


def event_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


def event(name: str, kind: str = "page_view", /, **fields: Any) -> dict[str, Any]:
    """A valid wire document of type `kind` with an event id of its own; `fields` override or add."""
    doc: dict[str, Any] = {
        "event_id": event_id(name),
        "user_id": "hostile-user",
        "session_id": str(uuid.uuid5(NAMESPACE, "session")),
        "event_type": kind,
        "timestamp": T0,
        "device": "desktop",
        "country": "DE",
        "data": dict(DATA[kind]),
    }
    if kind == "purchase":
        doc["value"] = "19.99"
    doc.update(fields)
    return doc


def without(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != key}


def wire(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def splice(doc: dict[str, Any], marker: str, raw_text: bytes) -> bytes:
    """The document's bytes with the JSON string `marker` replaced by raw bytes (invalid on purpose)."""
    encoded = wire(doc)
    quoted = json.dumps(marker).encode()
    assert encoded.count(quoted) == 1, marker
    return encoded.replace(quoted, raw_text)


def _padded_to(size: int, name: str) -> bytes:
    """A valid page view of exactly `size` bytes (its `data.blob` fills the rest)."""
    doc = event(name, data={"page": "/big", "blob": ""})
    doc["data"]["blob"] = "x" * (size - len(wire(doc)))
    raw = wire(doc)
    assert len(raw) == size
    return raw


# ---------------------------------------------------------------------------- the cases


def _not_json() -> list[Case]:
    valid = event("not-json")
    raw = wire(valid)
    cases = {
        "not_json": b"hello, world",
        "truncated_json": raw[:60],
        "truncated_inside_a_string": raw[: raw.index(b"/home") + 3],
        "empty_record": b"",
        "only_whitespace": b" \r\n\t ",
        "single_quoted_json": raw.replace(b'"', b"'"),
        "trailing_comma": raw[:-1] + b",}",
        "javascript_comment": b"/* event */" + raw,
        "unquoted_keys": b'{event_id: "1", user_id: "u"}',
        "hexadecimal_number": splice(event("hex", "purchase"), "19.99", b"0x10"),
        "two_documents_in_one_record": raw + raw,
        "trailing_garbage": raw + b" garbage",
        "xml_instead_of_json": b'<event id="1"/>',
        "utf8_byte_order_mark": b"\xef\xbb\xbf" + raw,
        "utf16_encoded_json": json.dumps(valid).encode("utf-16"),
        "invalid_utf8_in_a_string": splice(valid, "/home", b'"/\xff\xfe"'),
        "invalid_utf8_in_a_key": raw.replace(b'"page"', b'"p\xc3\x28ge"'),
        "overlong_utf8_encoding": splice(valid, "/home", b'"/\xc0\xaf"'),
        "utf8_encoded_surrogate": splice(valid, "/home", b'"/\xed\xa0\x80"'),
        "latin1_encoded_text": splice(valid, "/home", '"/café"'.encode("latin-1")),
        "raw_nul_in_a_string": splice(valid, "/home", b'"/\x00"'),
        "raw_nul_after_the_document": raw + b"\x00",
        "raw_control_character_in_a_string": splice(valid, "/home", b'"/\x07"'),
        "number_with_4301_digits": splice(event("digits", data={"page": "/", "n": "N"}), "N", b"9" * 4301),
        "nesting_10000_deep": splice(event("deep", data={"page": "/", "x": "X"}), "X", b"[" * 10_000 + b"]" * 10_000),
    }
    return [Case(name, raw, **dead("deserialize", NOT_JSON)) for name, raw in cases.items()]


def _json_but_not_an_event_object() -> list[Case]:
    valid = event("not-an-object")
    cases = {
        "json_array": b"[1, 2, 3]",
        "json_number": b"42",
        "json_string": b'"page_view"',
        "json_null": b"null",
        "json_true": b"true",
        "nan_literal_alone": b"NaN",
        # The standard library reads lone surrogates; the event parser refuses them, as Postgres would.
        "lone_high_surrogate_in_a_string": splice(valid, "/home", b'"/\\ud800"'),
        "lone_low_surrogate_in_a_key": wire(valid).replace(b'"page"', b'"p\\udc00"'),
        "lone_surrogate_in_user_id": splice(valid, "hostile-user", b'"u\\ud800"'),
        "reversed_surrogate_pair": splice(valid, "/home", b'"\\ude00\\ud83d"'),
        "nesting_500_deep": splice(event("deep-500", data={"page": "/", "x": "X"}), "X", b"[" * 500 + b"]" * 500),
    }
    return [Case(name, raw, **dead("deserialize")) for name, raw in cases.items()]


_WRONG_VALUES: dict[str, dict[str, Any]] = {
    "event_id": {"number": 12345, "null": None, "text": "not-a-uuid", "list": [], "cut_short": "12345678-1234"},
    "user_id": {"number": 42, "null": None, "empty_text": "", "object": {}, "boolean": True},
    "session_id": {"number": 7, "text": "session-1"},
    "event_type": {"number": 1, "null": None, "unknown": "teleport", "upper_case": "PAGE_VIEW", "padded": "page_view "},
    "timestamp": {
        "unix_seconds": 1764237600,
        "unix_seconds_as_text": "1764237600",
        "text_without_offset": "2026-11-27T10:00:00",
        "day_first_text": "27/11/2026 10:00",
        "rfc_2822_text": "Fri, 27 Nov 2026 10:00:00 +0000",
        "date_only": "2026-11-27",
        "week_date": "2026-W48-5T10:00:00Z",
        "offset_over_a_day": "2026-11-27T10:00:00+25:00",
        "leap_second": "2026-12-31T23:59:60Z",
        "month_13": "2026-13-01T00:00:00Z",
        "null": None,
    },
    "device": {"unknown": "phone", "upper_case": "MOBILE", "number": 3},
    "country": {"lower_case": "de", "unknown_code": "XX", "alpha_3": "DEU", "number": 49},
    "sent_at": {"text_without_offset": "2026-11-27T10:00:00", "unix_seconds": 1764237600},
    "data": {"text": "page=/home", "list": [], "null": None},
}


def _wrong_types() -> list[Case]:
    cases = []
    for field, values in _WRONG_VALUES.items():
        for label, value in values.items():
            name = f"{field}_as_{label}"
            cases.append(Case(name, wire(event(name, **{field: value})), **dead("schema")))
    for field in ("event_id", "user_id", "session_id", "event_type", "timestamp", "device", "country"):
        name = f"missing_{field}"
        cases.append(Case(name, wire(without(event(name), field)), **dead("schema")))
    for name, doc in {
        "extra_top_level_key": event("extra-key", admin=True),
        "proto_pollution_key": event("proto", __proto__={"admin": True}),
        "key_in_another_case": event("case-key", Event_Type="page_view"),
        "page_view_without_data": without(event("no-data"), "data"),
    }.items():
        cases.append(Case(name, wire(doc), **dead("schema")))
    return cases


def _values() -> list[Case]:
    def purchase(name: str, value: Any) -> bytes:
        return wire(event(name, "purchase", value=value))

    def purchase_raw(name: str, number: bytes) -> bytes:
        return splice(event(name, "purchase", value="V"), "V", number)

    invalid = {
        "value_as_text": purchase("value_as_text", "nineteen"),
        "value_as_boolean": purchase("value_as_boolean", True),
        "value_as_list": purchase("value_as_list", [19.99]),
        "value_null_on_a_purchase": purchase("value_null_on_a_purchase", None),
        "purchase_without_value": wire(without(event("purchase_without_value", "purchase"), "value")),
        "negative_value": purchase("negative_value", "-1.00"),
        "negative_value_as_number": purchase("negative_value_as_number", -1),
        "value_1e308": purchase_raw("value_1e308", b"1e308"),
        "value_10_to_the_30": purchase_raw("value_10_to_the_30", str(10**30).encode()),
        "value_with_3_decimals": purchase("value_with_3_decimals", "1.234"),
        "value_with_3_decimals_as_number": purchase_raw("value_with_3_decimals_as_number", b"1.234"),
        "value_beyond_double_precision": purchase_raw("value_beyond_double_precision", b"1234567890123.999999999999"),
        "value_below_double_precision": purchase_raw("value_below_double_precision", b"0.1000000000000000001"),
        "value_underflowing_a_double": purchase_raw("value_underflowing_a_double", b"1e-400"),
        "value_overflowing_a_double": purchase_raw("value_overflowing_a_double", b"1e400"),
        "value_nan_literal": purchase_raw("value_nan_literal", b"NaN"),
        "value_infinity_literal": purchase_raw("value_infinity_literal", b"Infinity"),
        "value_minus_infinity_literal": purchase_raw("value_minus_infinity_literal", b"-Infinity"),
        "value_nan_as_text": purchase("value_nan_as_text", "NaN"),
        "value_with_underscores": purchase("value_with_underscores", "1_000"),
        "value_padded_with_spaces": purchase("value_padded_with_spaces", " 19.99 "),
        "value_as_hexadecimal_text": purchase("value_as_hexadecimal_text", "0x10"),
    }
    valid = {
        "value_as_number": purchase_raw("value_as_number", b"19.99"),
        "value_as_integer": purchase_raw("value_as_integer", b"20"),
        "value_in_exponent_form": purchase("value_in_exponent_form", "1.5e1"),
        "value_zero": purchase("value_zero", "0"),
        "value_at_the_maximum": wire(event("value_at_the_maximum", "purchase", value=MAX_VALUE, user_id="big-spender")),
        # A user's total spent is a sum of values that are each valid: it must not overflow.
        "purchases_adding_up_past_the_maximum": wire(
            event("purchases_adding_up_past_the_maximum", "purchase", value=MAX_VALUE, user_id="big-spender")
        ),
        "value_on_a_page_view": wire(event("value_on_a_page_view", value="5.00")),
    }
    return [Case(n, raw, **dead("schema")) for n, raw in invalid.items()] + [
        Case(n, raw, STORED) for n, raw in valid.items()
    ]


def _event_data() -> list[Case]:
    invalid = {
        "results_count_as_text": ("search", {"query": "q", "results_count": "3"}),
        "negative_results_count": ("search", {"query": "q", "results_count": -1}),
        "results_count_as_float": ("search", {"query": "q", "results_count": 3.0}),
        "results_count_as_boolean": ("search", {"query": "q", "results_count": True}),
        "search_without_query": ("search", {"results_count": 3}),
        "quantity_zero": ("purchase", {"product_id": "p", "quantity": 0, "currency": "EUR"}),
        "negative_quantity": ("purchase", {"product_id": "p", "quantity": -2, "currency": "EUR"}),
        "quantity_as_text": ("purchase", {"product_id": "p", "quantity": "2", "currency": "EUR"}),
        "fractional_quantity": ("purchase", {"product_id": "p", "quantity": 1.5, "currency": "EUR"}),
        "lower_case_currency": ("purchase", {"product_id": "p", "quantity": 1, "currency": "eur"}),
        "currency_as_number": ("purchase", {"product_id": "p", "quantity": 1, "currency": 978}),
        "purchase_without_product_id": ("purchase", {"quantity": 1, "currency": "EUR"}),
        "negative_watch_seconds": ("video_watch", {"video_id": "v", "watch_seconds": -1}),
        "watch_seconds_as_text": ("video_watch", {"video_id": "v", "watch_seconds": "12.5"}),
        "video_watch_without_video_id": ("video_watch", {"watch_seconds": 1}),
        "page_as_number": ("page_view", {"page": 42}),
        "page_null": ("page_view", {"page": None}),
        "referrer_as_number": ("page_view", {"page": "/", "referrer": 7}),
        "click_without_element": ("click", {"page": "/"}),
    }
    cases = [Case(n, wire(event(n, kind, data=data)), **dead("schema")) for n, (kind, data) in invalid.items()]
    for name, key, number in [
        ("nan_in_watch_seconds", "watch_seconds", b"NaN"),
        ("infinity_in_watch_seconds", "watch_seconds", b"Infinity"),
    ]:
        doc = event(name, "video_watch", data={"video_id": "v", key: "N"})
        cases.append(Case(name, splice(doc, "N", number), **dead("schema")))
    # NaN, Infinity and 1e400 under unknown keys would be stored as null: refused instead.
    for name, number in [("nan_under_an_unknown_key", b"NaN"), ("infinity_under_an_unknown_key", b"-Infinity")]:
        cases.append(Case(name, splice(event(name, data={"page": "/", "n": "N"}), "N", number), **dead("schema")))
    doc = event("overflow-under-an-unknown-key", data={"page": "/", "deep": [{"n": "N"}]})
    cases.append(Case("number_overflowing_a_double_under_an_unknown_key", splice(doc, "N", b"1e400"), **dead("schema")))
    valid = {
        "huge_results_count": ("search", {"query": "q", "results_count": 10**30}),
        "zero_results_count": ("search", {"query": "q", "results_count": 0}),
        "huge_quantity": ("purchase", {"product_id": "p", "quantity": 10**30, "currency": "EUR"}),
        "huge_watch_seconds": ("video_watch", {"video_id": "v", "watch_seconds": 1e308}),
        "unknown_data_keys_are_kept": ("page_view", {"page": "/", "note": "x", "nested": {"a": [1, {"b": None}]}}),
        "signup_with_extra_data": ("signup", {"campaign": "spring", "utm": {"source": "mail"}}),
        "unknown_data_key_sent_as_null": ("page_view", {"page": "/", "coupon": None}),
    }
    cases += [Case(n, wire(event(n, kind, data=data)), STORED) for n, (kind, data) in valid.items()]
    cases.append(Case("signup_without_data", wire(without(event("signup_without_data", "signup"), "data")), STORED))
    doc = event("digits-4300", data={"page": "/", "n": "N"})
    cases.append(Case("number_with_4300_digits_under_an_unknown_key", splice(doc, "N", b"9" * 4300), STORED))
    return cases


def _nul() -> list[Case]:
    valid = event("nul")
    cases = {
        "escaped_nul_in_user_id": splice(valid, "hostile-user", b'"user\\u0000"'),
        "escaped_nul_in_a_string": splice(valid, "/home", b'"/\\u0000"'),
        "escaped_nul_in_a_key": wire(valid).replace(b'"page"', b'"k\\u0000":1,"page"'),
        "escaped_nul_deep_inside_data": splice(
            event("nul-deep", data={"page": "/", "a": [{"b": "N"}]}), "N", b'"\\u0000"'
        ),
    }
    return [Case(name, raw, **dead("schema")) for name, raw in cases.items()]


def _times() -> list[Case]:
    invalid = {
        "timestamp_on_the_last_day_of_the_calendar": {"timestamp": "9999-12-31T00:00:00+00:00"},
        "timestamp_beyond_the_calendar_in_utc": {"timestamp": "9999-12-31T23:59:59-14:00"},
        "timestamp_on_the_first_day_of_the_calendar": {"timestamp": "0001-01-01T12:00:00+00:00"},
        "timestamp_before_the_calendar_in_utc": {"timestamp": "0001-01-01T00:00:00+14:00"},
        "sent_at_beyond_the_calendar": {"sent_at": "9999-12-31T23:59:59-14:00"},
        # The skew correction (timestamp + arrival - sent_at) would leave the calendar.
        "sent_at_in_year_9999": {"sent_at": "9999-06-01T00:00:00+00:00"},
        "sent_at_correction_before_the_calendar": {
            "timestamp": "0001-01-02T12:00:00+00:00",
            "sent_at": "2200-01-01T00:00:00+00:00",
        },
    }
    valid = {
        "timestamp_in_year_9999": {"timestamp": "9999-06-01T00:00:00+00:00"},  # clamped to arrival
        "timestamp_in_year_0001": {"timestamp": "0001-06-01T00:00:00+00:00"},  # late
        "timestamp_in_1900": {"timestamp": "1900-01-01T00:00:00+00:00"},  # late
        "clock_reset_to_1970_corrected_by_sent_at": {
            "timestamp": "1970-01-01T00:00:05+00:00",
            "sent_at": "1970-01-01T00:00:10+00:00",
        },
        "sent_at_long_before_timestamp": {"sent_at": "0001-06-01T00:00:00+00:00"},  # clamped to arrival
        "timestamp_with_nanoseconds": {"timestamp": "2026-11-27T10:00:00.123456789+00:00"},
        "timestamp_with_a_space_separator": {"timestamp": "2026-11-27 10:00:00+00:00"},
        "timestamp_with_offset_minus_14": {"timestamp": "2026-11-27T10:00:00-14:00"},
        "timestamp_in_z_notation": {"timestamp": "2026-11-27T10:00:00Z"},
    }
    return [Case(n, wire(event(n, **f)), **dead("schema")) for n, f in invalid.items()] + [
        Case(n, wire(event(n, **f)), STORED) for n, f in valid.items()
    ]


def _duplicates() -> list[Case]:
    first = event("first_of_an_event_id", user_id="first-writer", data={"page": "/first"})
    other = dict(first, user_id="second-writer", data={"page": "/second"}, device="mobile")
    upper = dict(first, event_id=first["event_id"].upper(), data={"page": "/upper"})
    bare = dict(first, event_id=first["event_id"].replace("-", ""), data={"page": "/bare"})
    user_twice = wire(event("user_id_given_twice", user_id="first")).replace(
        b'"user_id":"first"', b'"user_id":"first","user_id":"second"'
    )
    type_twice = wire(event("event_type_given_twice")).replace(
        b'"event_type":"page_view"', b'"event_type":"purchase","event_type":"page_view"'
    )
    return [
        Case("first_of_an_event_id", wire(first), STORED),
        Case("exact_retry_of_the_first", wire(first), Duplicate("first_of_an_event_id")),
        Case("same_event_id_other_content", wire(other), Duplicate("first_of_an_event_id")),
        Case("same_event_id_in_upper_case", wire(upper), Duplicate("first_of_an_event_id")),
        Case("same_event_id_without_hyphens", wire(bare), Duplicate("first_of_an_event_id")),
        # Repeated keys: the last one counts, in both parsers the platform uses.
        Case("user_id_given_twice", user_twice, STORED),
        Case("event_type_given_twice", type_twice, STORED),
    ]


def _sizes() -> list[Case]:
    emoji_user = "😀" * 50  # 50 characters, 200 bytes
    return [
        Case("payload_over_one_megabyte", _padded_to(MAX_BYTES + 1, "over-1mb"), **dead("size", Refused(413))),
        Case("payload_at_the_size_limit", _padded_to(MAX_BYTES, "at-1mb"), STORED),
        Case("user_id_of_50_characters", wire(event("user_id_of_50_characters", user_id="u" * 50)), STORED),
        Case("user_id_of_50_emoji", wire(event("user_id_of_50_emoji", user_id=emoji_user)), STORED),
        Case("user_id_of_51_characters", wire(event("user_id_of_51_characters", user_id="u" * 51)), **dead("schema")),
        Case("page_of_100_kb", wire(event("page_of_100_kb", data={"page": "/" + "p" * 100_000})), STORED),
        Case("data_key_of_10_kb", wire(event("data_key_of_10_kb", data={"page": "/", "k" * 10_000: 1})), STORED),
        Case(
            "ten_thousand_data_keys",
            wire(event("ten_thousand_data_keys", data={"page": "/", **{f"k{i}": i for i in range(10_000)}})),
            STORED,
        ),
        Case(
            "nesting_100_deep",
            splice(event("deep-100", data={"page": "/", "x": "X"}), "X", b"[" * 100 + b"]" * 100),
            STORED,
        ),
    ]


_FREE_TEXT = {
    "page_view": lambda s: {"page": s, "referrer": s, s: s},
    "click": lambda s: {"page": s, "element": s},
    "search": lambda s: {"query": s, "results_count": 0},
    "video_watch": lambda s: {"video_id": s, "watch_seconds": 1},
    "purchase": lambda s: {"product_id": s, "quantity": 1, "currency": "EUR"},
}
_CONSTRAINED_TEXT = ("event_id", "session_id", "event_type", "timestamp", "device", "country", "sent_at")


def _injection() -> list[Case]:
    cases = []
    for label, text in (("sql_injection", SQL), ("script_injection", SCRIPT)):
        for kind, data in _FREE_TEXT.items():
            name = f"{label}_in_every_text_field_of_a_{kind}"
            cases.append(Case(name, wire(event(name, kind, user_id=text, data=data(text))), STORED))
        for field in _CONSTRAINED_TEXT:
            name = f"{label}_as_{field}"
            cases.append(Case(name, wire(event(name, **{field: text})), **dead("schema")))
        for name, doc in {
            f"{label}_as_currency": event(f"{label}-currency", "purchase", data=dict(DATA["purchase"], currency=text)),
            f"{label}_as_value": event(f"{label}-value", "purchase", value=text),
        }.items():
            cases.append(Case(name, wire(doc), **dead("schema")))
    stored_text = {
        "template_and_lookup_injection": ("%s%n{0}${jndi:ldap://127.0.0.1/a}", "{{7*7}}"),
        "path_traversal": ("../../etc/passwd", "/../../../../windows/win.ini"),
        "header_injection": ("user\r\nSet-Cookie: admin=1", "/\r\n\r\nHTTP/1.1 200 OK"),
        "json_inside_a_string": ('{"admin": true}', '"},"event_type":"purchase'),
        "quotes_and_backslashes": ("\\\"'`", "C:\\Windows\\system32\\"),
        "emoji_and_right_to_left_text": ("😀 مستخدم", "/שלום/🎉/مرحبا"),
        "right_to_left_override": ("\u202egnp.exe", "/\u202etxt.exe"),
        "zero_width_and_combining_marks": ("e\u0301\u200b\u200d", "/👨\u200d👩\u200d👧\u200d👦"),
        "unicode_noncharacters_and_private_use": ("\uffff\ufffe\ue000", "/\U0010ffff"),
        "escaped_control_characters": ("tab\there\nline\u0007bell", "/\u001f\u007f"),
    }
    for name, (user_id, page) in stored_text.items():
        cases.append(Case(name, wire(event(name, user_id=user_id, data={"page": page})), STORED))
    ascii_escapes = json.dumps(event("unicode_escapes_everywhere", user_id="é😀", data={"page": "/ü"})).encode()
    cases.append(Case("unicode_escapes_everywhere", ascii_escapes, STORED))  # \u00e9, \ud83d\ude00, ...
    return cases


def _spellings() -> list[Case]:
    def with_id(name: str, spelled: str) -> bytes:
        return wire(event(name, event_id=spelled))

    hexa = uuid.uuid5(NAMESPACE, "spelled").hex
    pretty = json.dumps(event("pretty_printed_with_crlf"), indent=2).replace("\n", "\r\n").encode()
    return [
        Case("event_id_without_hyphens", with_id("event_id_without_hyphens", hexa), STORED),
        Case("event_id_in_braces", with_id("event_id_in_braces", "{" + event_id("braces") + "}"), STORED),
        Case("event_id_as_urn", with_id("event_id_as_urn", "urn:uuid:" + event_id("urn")), STORED),
        Case("nil_event_id", with_id("nil_event_id", str(uuid.UUID(int=0))), STORED),
        Case("pretty_printed_with_crlf", pretty, STORED),
        Case("surrounded_by_whitespace", b"\r\n\t " + wire(event("surrounded_by_whitespace")) + b" \n", STORED),
    ]


def _hostile_headers() -> list[Case]:
    not_hex = b"00-" + b"z" * 32 + b"-" + b"z" * 16 + b"-01"  # the length and flag of a sampled traceparent
    headers = {
        "garbage_traceparent_header": (("traceparent", b"\xff" * 55),),
        "traceparent_that_only_looks_right": (("traceparent", not_hex),),
        "empty_traceparent_header": (("traceparent", b""), ("tracestate", b"\x00\x01")),
        "header_of_100_kb": (("x-junk", b"x" * 100_000),),
    }
    return [Case(name, wire(event(name)), STORED, headers=h) for name, h in headers.items()]


CORPUS: list[Case] = [
    *_not_json(),
    *_json_but_not_an_event_object(),
    *_wrong_types(),
    *_values(),
    *_event_data(),
    *_nul(),
    *_times(),
    *_duplicates(),
    *_sizes(),
    *_injection(),
    *_spellings(),
    *_hostile_headers(),
]
BY_NAME = {case.name: case for case in CORPUS}
assert len(BY_NAME) == len(CORPUS), "case names are unique"
