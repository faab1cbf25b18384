"""Event time on events; daily-stat members, minute windows, rate buckets, sessions.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("events", sa.Column("event_time", TS))
    op.execute("UPDATE events SET event_time = timestamp")
    op.alter_column("events", "event_time", nullable=False)
    op.add_column("events", sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("events", sa.Column("future_clamped", sa.Boolean, nullable=False, server_default=sa.false()))

    op.add_column("consumer_offsets", sa.Column("received_until", TS))
    op.add_column("failed_events", sa.Column("replayed_at", TS))

    op.create_table(
        "daily_stats_users",
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("day", "event_type", "country", "user_id", name="pk_daily_stats_users"),
    )
    op.create_table(
        "realtime_windows",
        sa.Column("window_start", TS, nullable=False),
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("purchases", sa.BigInteger, nullable=False),
        sa.Column("revenue", sa.Numeric(18, 2), nullable=False),
        sa.Column("active_users", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("window_start", "dimension", "key", name="pk_realtime_windows"),
    )
    op.create_table(
        "realtime_window_users",
        sa.Column("window_start", TS, nullable=False),
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("window_start", "user_id", name="pk_realtime_window_users"),
    )
    op.create_table(
        "event_rate_buckets",
        sa.Column("bucket_start", TS, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("bucket_start", name="pk_event_rate_buckets"),
    )
    op.create_table(
        "sessions",
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("session_start", TS, nullable=False),
        sa.Column("session_end", TS, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "session_start", name="pk_sessions"),
    )
    op.create_index("ix_sessions_session_start", "sessions", ["session_start"])

    # Rolling rate: events/s over the 5 minutes ending at each 10-second step.
    op.execute("""
        CREATE VIEW rolling_event_rates AS
        SELECT bucket_start + interval '10 seconds' AS at,
               sum(events) OVER (ORDER BY bucket_start
                                 RANGE BETWEEN interval '290 seconds' PRECEDING AND CURRENT ROW)::float8 / 300
                   AS events_per_second
        FROM event_rate_buckets
    """)
    # Sessionization per UTC day of the session start: length, depth and bounce rate.
    op.execute("""
        CREATE VIEW daily_session_stats AS
        SELECT (session_start AT TIME ZONE 'UTC')::date AS day,
               count(*) AS sessions,
               avg(extract(epoch FROM session_end - session_start)) AS avg_seconds,
               avg(events) AS avg_events,
               avg((events = 1)::int) AS bounce_rate
        FROM sessions GROUP BY 1
    """)


def downgrade() -> None:
    op.execute("DROP VIEW daily_session_stats")
    op.execute("DROP VIEW rolling_event_rates")
    for table in ("sessions", "event_rate_buckets", "realtime_window_users", "realtime_windows", "daily_stats_users"):
        op.drop_table(table)
    op.drop_column("failed_events", "replayed_at")
    op.drop_column("consumer_offsets", "received_until")
    for column in ("future_clamped", "late", "event_time"):
        op.drop_column("events", column)
