"""The seed's four tables (events, users, failed_events, daily_stats) and consumer offsets.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

EMPTY_JSON = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("session_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("value", sa.Numeric(15, 2)),
        sa.Column("data", JSONB, nullable=False, server_default=EMPTY_JSON),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("anomaly_score", sa.Double),
        sa.Column("source_topic", sa.String(249)),
        sa.Column("source_partition", sa.Integer),
        sa.Column("source_offset", sa.BigInteger),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
        sa.CheckConstraint("anomaly_score BETWEEN 0 AND 1", name="ck_events_anomaly_score_unit"),
    )
    op.create_index("ix_events_user_id_timestamp", "events", ["user_id", "timestamp"])
    op.create_index("ix_events_event_type", "events", ["event_type"])
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_index("ix_events_country", "events", ["country"])

    op.create_table(
        "users",
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_events", sa.BigInteger, nullable=False),
        sa.Column("total_purchases", sa.Integer, nullable=False),
        sa.Column("total_spent", sa.Numeric(15, 2), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("metadata", JSONB, nullable=False, server_default=EMPTY_JSON),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    op.create_index("ix_users_country", "users", ["country"])

    op.create_table(
        "failed_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("event_id", sa.String(64)),
        sa.Column("error_type", sa.String(32), nullable=False),
        sa.Column("error_reason", sa.Text, nullable=False),
        sa.Column("raw_data", sa.Text, nullable=False),
        sa.Column("raw_encoding", sa.String(10), nullable=False, server_default="utf-8"),
        sa.Column("raw_truncated", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("source_topic", sa.String(249)),
        sa.Column("source_partition", sa.Integer),
        sa.Column("source_offset", sa.BigInteger),
        sa.Column("processor_version", sa.String(64), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_failed_events"),
    )
    op.create_index("ix_failed_events_timestamp", "failed_events", ["timestamp"])
    op.create_index("ix_failed_events_error_type", "failed_events", ["error_type"])
    op.create_index(
        "ix_failed_events_source_topic_source_partition_source_offset",
        "failed_events",
        ["source_topic", "source_partition", "source_offset"],
        unique=True,
    )

    op.create_table(
        "daily_stats",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("unique_users", sa.BigInteger, nullable=False),
        sa.Column("purchases", sa.BigInteger, nullable=False),
        sa.Column("revenue", sa.Numeric(18, 2), nullable=False),
        sa.PrimaryKeyConstraint("day", "event_type", "country", name="pk_daily_stats"),
    )

    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(249), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "topic", "partition", name="pk_consumer_offsets"),
    )


def downgrade() -> None:
    for table in ("consumer_offsets", "daily_stats", "failed_events", "users", "events"):
        op.drop_table(table)
