"""The relational schema (SQLAlchemy Core). Alembic migrations create it; queries use it.

`events` is the append-only source of truth; every other table is a projection
that `analytics replay` can rebuild from it, or bookkeeping (offsets).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

# Sums of money: one event's `value` is at most 15 digits, and a sum of them must not overflow
# where a single one fits (a user's purchases, a day's revenue).
TOTAL = Numeric(38, 2)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "pk": "pk_%(table_name)s",
    }
)

EMPTY_JSON = text("'{}'::jsonb")

events = Table(
    "events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("user_id", String(50), nullable=False),
    Column("session_id", Uuid, nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("device", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("value", Numeric(15, 2)),
    Column("data", JSONB, nullable=False, server_default=EMPTY_JSON),
    Column("sent_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("anomaly_score", Double),
    Column("source_topic", String(249)),
    Column("source_partition", Integer),
    Column("source_offset", BigInteger),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("late", Boolean, nullable=False, server_default=text("false")),
    Column("future_clamped", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("anomaly_score BETWEEN 0 AND 1", name="anomaly_score_unit"),
    # The seed's four indexes, by event time and with event_id so that keyset pages
    # ("a user's events, newest first", "all events, newest first") are index scans.
    Index("ix_events_user_id_event_time", "user_id", text("event_time DESC"), text("event_id DESC")),
    Index(None, "event_type"),
    Index("ix_events_event_time", text("event_time DESC"), text("event_id DESC")),
    Index(None, "country"),
)

users = Table(
    "users",
    metadata,
    Column("user_id", String(50), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("total_events", BigInteger, nullable=False),
    Column("total_purchases", Integer, nullable=False),
    Column("total_spent", TOTAL, nullable=False),
    Column("country", String(2), nullable=False),
    Column("metadata", JSONB, nullable=False, server_default=EMPTY_JSON),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "country"),
)

failed_events = Table(
    "failed_events",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", String(64)),
    Column("error_type", String(32), nullable=False),
    Column("error_reason", Text, nullable=False),
    Column("raw_data", Text, nullable=False),
    Column("raw_encoding", String(10), nullable=False, server_default="utf-8"),
    Column("raw_truncated", Boolean, nullable=False, server_default=text("false")),
    Column("source_topic", String(249)),
    Column("source_partition", Integer),
    Column("source_offset", BigInteger),
    Column("processor_version", String(64), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True)),
    Column("request_key", String(255)),
    Column("request_index", Integer),
    Index(None, "timestamp"),
    Index(None, "error_type"),
    # A record read twice from the log is dead-lettered once (NULL positions never collide).
    Index(None, "source_topic", "source_partition", "source_offset", unique=True),
    # ...and an item of a request retried with the same Idempotency-Key once.
    Index(None, "request_key", "request_index", unique=True),
)

daily_stats = Table(
    "daily_stats",
    metadata,
    Column("day", Date, nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("country", String(2), nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("unique_users", BigInteger, nullable=False),
    Column("purchases", BigInteger, nullable=False),
    Column("revenue", TOTAL, nullable=False),
    PrimaryKeyConstraint("day", "event_type", "country"),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("received_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "topic", "partition"),
)

daily_stats_users = Table(
    "daily_stats_users",
    metadata,
    Column("day", Date, nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("country", String(2), nullable=False),
    Column("user_id", String(50), nullable=False),
    PrimaryKeyConstraint("day", "event_type", "country", "user_id"),
)

realtime_windows = Table(
    "realtime_windows",
    metadata,
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("dimension", String(16), nullable=False),  # all | event_type | country | device
    Column("key", String(50), nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("purchases", BigInteger, nullable=False),
    Column("revenue", TOTAL, nullable=False),
    Column("active_users", BigInteger, nullable=False, server_default=text("0")),  # on the 'all' row
    PrimaryKeyConstraint("window_start", "dimension", "key"),
)

realtime_window_users = Table(
    "realtime_window_users",
    metadata,
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("user_id", String(50), nullable=False),
    PrimaryKeyConstraint("window_start", "user_id"),
)

event_rate_buckets = Table(
    "event_rate_buckets",
    metadata,
    Column("bucket_start", DateTime(timezone=True), nullable=False),
    Column("events", BigInteger, nullable=False),
    PrimaryKeyConstraint("bucket_start"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("user_id", String(50), nullable=False),
    Column("session_start", DateTime(timezone=True), nullable=False),
    Column("session_end", DateTime(timezone=True), nullable=False),
    Column("events", Integer, nullable=False),
    PrimaryKeyConstraint("user_id", "session_start"),
    Index(None, "session_start"),
)

anomalies = Table(
    "anomalies",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("user_id", String(50), nullable=False),
    Column("score", Double, nullable=False),
    Column("reasons", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("model_version", String(64)),
    CheckConstraint("score BETWEEN 0 AND 1", name="score_unit"),
    Index(None, "detected_at"),
)

churn_scores = Table(
    "churn_scores",
    metadata,
    Column("user_id", String(50), primary_key=True),
    Column("probability", Double, nullable=False),
    Column("model_version", String(64), nullable=False),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("probability BETWEEN 0 AND 1", name="probability_unit"),
)

PROJECTION_TABLES = (
    "users", "daily_stats", "daily_stats_users", "realtime_windows",
    "realtime_window_users", "event_rate_buckets", "sessions",
)  # fmt: skip

models = Table(
    "models",
    metadata,
    Column("version", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("trained_from", DateTime(timezone=True), nullable=False),
    Column("trained_to", DateTime(timezone=True), nullable=False),
    Column("training_events", BigInteger, nullable=False),
    Column("params", JSONB, nullable=False),
    Column("metrics", JSONB, nullable=False),
    Column("features", ARRAY(Text), nullable=False),
    Index("ix_models_kind_created_at", "kind", text("created_at DESC")),
)

detector_states = Table(
    "detector_states",
    metadata,
    Column("name", String(64), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("events_learned", BigInteger, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("name", "partition"),
)

# A user's feature state (`domain.features.UserFeatureState`) as of `events_total` stored events:
# valid while `users.total_events` is still that count (`adapters.postgres.feature_states`).
user_feature_states = Table(
    "user_feature_states",
    metadata,
    Column("user_id", String(50), primary_key=True),
    Column("events_total", BigInteger, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
