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
from sqlalchemy.dialects.postgresql import JSONB

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
    CheckConstraint("anomaly_score BETWEEN 0 AND 1", name="anomaly_score_unit"),
    # The seed's indexes; user_id leads a composite so "a user's events, newest first" is one scan.
    Index(None, "user_id", "timestamp"),
    Index(None, "event_type"),
    Index(None, "timestamp"),
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
    Column("total_spent", Numeric(15, 2), nullable=False),
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
    Index(None, "timestamp"),
    Index(None, "error_type"),
    # A record read twice from the log is dead-lettered once (NULL positions never collide).
    Index(None, "source_topic", "source_partition", "source_offset", unique=True),
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
    Column("revenue", Numeric(18, 2), nullable=False),
    PrimaryKeyConstraint("day", "event_type", "country"),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "topic", "partition"),
)
