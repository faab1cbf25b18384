"""Tables the API reads that later stages fill: anomalies, churn scores; read indexes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "anomalies",
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("reasons", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("model_version", sa.String(64)),
        sa.PrimaryKeyConstraint("event_id", name="pk_anomalies"),
        sa.CheckConstraint("score BETWEEN 0 AND 1", name="ck_anomalies_score_unit"),
    )
    op.create_index("ix_anomalies_detected_at", "anomalies", ["detected_at"])
    op.create_table(
        "churn_scores",
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("probability", sa.Double, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("scored_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_churn_scores"),
        sa.CheckConstraint("probability BETWEEN 0 AND 1", name="ck_churn_scores_probability_unit"),
    )
    # Keyset pagination of events newest-first by event time, per user and overall.
    op.drop_index("ix_events_user_id_timestamp", "events")
    op.create_index(
        "ix_events_user_id_event_time", "events", ["user_id", sa.text("event_time DESC"), sa.text("event_id DESC")]
    )
    op.drop_index("ix_events_timestamp", "events")
    op.create_index("ix_events_event_time", "events", [sa.text("event_time DESC"), sa.text("event_id DESC")])


def downgrade() -> None:
    op.drop_index("ix_events_event_time", "events")
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.drop_index("ix_events_user_id_event_time", "events")
    op.create_index("ix_events_user_id_timestamp", "events", ["user_id", "timestamp"])
    op.drop_table("churn_scores")
    op.drop_table("anomalies")
