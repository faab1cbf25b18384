"""`KafkaAnomalyPublisher`: anomaly records as JSON on `user-anomalies`.

Wire format: `{"event": <the event as received>, "anomaly": {score, reasons, model_version,
detected_at, event_time, features}}`, keyed by user id. `features` are the named values the
detectors and the reasons were computed from, so a consumer can see why without the database.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from adapters.kafka.acknowledged import publish_unacknowledged
from application.messages import Anomaly
from application.ports.event_log import Acknowledged, Acknowledgement, EventPublisher


def anomaly_json(anomaly: Anomaly) -> bytes:
    received = anomaly.received
    event = received.raw if received.raw is not None else received.event.model_dump_json(exclude_none=True).encode()
    record = {
        "score": anomaly.score,
        "reasons": list(anomaly.reasons),
        "model_version": anomaly.model_version,
        "detected_at": anomaly.detected_at,
        "event_time": received.event_time,
        "features": anomaly.features,
    }
    return b'{"event":' + event + b',"anomaly":' + orjson.dumps(record) + b"}"


class KafkaAnomalyPublisher:
    def __init__(self, publisher: EventPublisher, topic: str, flush_timeout: float = 30.0) -> None:
        self._publisher = publisher
        self._topic = topic
        self._flush_timeout = flush_timeout

    def publish_anomalies(self, anomalies: Sequence[Anomaly]) -> Acknowledgement:
        if not anomalies:
            return Acknowledged()
        return publish_unacknowledged(
            self._publisher,
            self._topic,
            [anomaly.received for anomaly in anomalies],
            [anomaly_json(anomaly) for anomaly in anomalies],
            flush_timeout=self._flush_timeout,
            what="anomalies",
        )
