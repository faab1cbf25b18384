"""`analytics bench`, baseline part: the design this platform replaces, on the same records.

One consumer that parses each record and INSERTs it in a transaction of its own (the seed's
original design), into a table with the events table's key. It validates nothing, keeps no
projection and scores nothing, so the ratio the bench reports is conservative.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass

import orjson
from confluent_kafka import Consumer, TopicPartition

from adapters.kafka.topics import topic_partitions
from adapters.postgres.engine import create_postgres_engine

_TABLE = """
CREATE TABLE IF NOT EXISTS baseline_events (
    event_id uuid PRIMARY KEY, user_id text NOT NULL, event_type text NOT NULL,
    "timestamp" timestamptz NOT NULL, value numeric(15, 2), data jsonb
)
"""
_INSERT = (
    'INSERT INTO baseline_events (event_id, user_id, event_type, "timestamp", value, data) '
    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING"
)


@dataclass(frozen=True)
class BaselineRun:
    events: int
    seconds: float
    events_per_s: float

    def as_dict(self) -> dict:
        return asdict(self)


def run_baseline(kafka_config: dict, topic: str, database_url: str, *, events: int) -> BaselineRun:
    consumer = Consumer(
        {
            **kafka_config,
            "group.id": f"bench-baseline-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in topic_partitions(kafka_config, topic)])
    engine = create_postgres_engine(database_url, pool_size=1)
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cur:
            cur.execute(_TABLE)
        connection.commit()
        done, started = 0, time.monotonic()
        with connection.cursor() as cur:
            while done < events:
                message = consumer.poll(1.0)
                if message is None or message.error() is not None:
                    continue
                doc = orjson.loads(message.value())
                data = orjson.dumps(doc.get("data", {})).decode()
                row = (doc["event_id"], doc["user_id"], doc["event_type"], doc["timestamp"], doc.get("value"), data)
                cur.execute(_INSERT, row)
                connection.commit()  # one transaction per event
                done += 1
        seconds = time.monotonic() - started
    finally:
        raw.close()
        engine.dispose()
        consumer.close()
    return BaselineRun(events=done, seconds=round(seconds, 3), events_per_s=round(done / seconds, 1))
