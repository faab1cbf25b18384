"""The records the platform publishes, byte for byte: `user-analytics` and `user-anomalies`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import orjson

from adapters.kafka.anomaly_publisher import anomaly_json
from adapters.kafka.processed_publisher import processed_json
from application.messages import Anomaly
from application.processed import ProcessedEvent
from domain.enrichment import Enrichment
from domain.validation import parse_event
from tests.factories import T0, event_doc, received

RAW = orjson.dumps(event_doc("search", user_id="ann", timestamp="2026-11-27T10:00:01+00:00"))
EVENT = parse_event(RAW)


def _received(*, raw: bytes | None = RAW, late: bool = False):
    arrived = EVENT.timestamp + (timedelta(hours=2) if late else timedelta(milliseconds=250))
    return received(EVENT, partition=2, offset=41, received_at=arrived)._replace(raw=raw)


def test_a_processed_event_is_the_payload_as_received_then_what_the_platform_added():
    moment = EVENT.timestamp
    enrichment = Enrichment(date(2026, 11, 27), 5, True, False, moment - timedelta(minutes=3), 4)
    record = processed_json(ProcessedEvent(_received(), enrichment, 0.4312))

    assert record.startswith(b'{"event":' + RAW + b',"processing":{')  # embedded as sent, not re-encoded
    expected = {
        "event_time": "2026-11-27T10:00:01+00:00",
        "received_at": "2026-11-27T10:00:01.250000+00:00",
        "late": False,
        "future_clamped": False,
        "minute_window": "2026-11-27T10:00:00+00:00",
        "local_day": "2026-11-27",
        "local_hour": 5,
        "is_new_user": True,
        "is_first_purchase": False,
        "session_start": "2026-11-27T09:57:01+00:00",
        "session_event_number": 4,
        "source_partition": 2,
        "source_offset": 41,
        "anomaly_score": 0.4312,
    }
    processing = json.loads(record)["processing"]
    assert processing == expected and list(processing) == list(expected)  # in this order


def test_a_late_unscored_event_has_no_session_and_a_null_score():
    enrichment = Enrichment(date(2026, 11, 27), 5, False, False, None, None)
    processing = json.loads(processed_json(ProcessedEvent(_received(late=True), enrichment)))["processing"]
    assert (processing["late"], processing["received_at"]) == (True, "2026-11-27T12:00:01+00:00")
    assert processing["session_start"] is processing["session_event_number"] is processing["anomaly_score"] is None


def test_without_the_raw_payload_the_event_is_the_validated_models_json():
    enrichment = Enrichment(date(2026, 11, 27), 5, False, False, None, None)
    record = json.loads(processed_json(ProcessedEvent(_received(raw=None), enrichment)))
    assert record["event"] == json.loads(EVENT.model_dump_json(exclude_none=True))


def test_an_anomaly_is_the_payload_as_received_then_why_it_was_flagged():
    detected = T0 + timedelta(minutes=5)
    anomaly = Anomaly(
        _received(), 0.93, ("burst of activity", "new country"), detected, "if-1", {"events_last_1m": 42.0}
    )
    record = anomaly_json(anomaly)

    assert record.startswith(b'{"event":' + RAW + b',"anomaly":{')
    assert json.loads(record)["anomaly"] == {
        "score": 0.93,
        "reasons": ["burst of activity", "new country"],
        "model_version": "if-1",
        "detected_at": "2026-11-27T10:05:00+00:00",
        "event_time": "2026-11-27T10:00:01+00:00",
        "features": {"events_last_1m": 42.0},
    }
    assert datetime.fromisoformat(json.loads(record)["anomaly"]["detected_at"]) == detected
