"""Trained models and detector state: the catalog of batch models, the online detectors' snapshots.

`models` lists every saved batch model version (the files themselves stay in the model
registry under the data directory); `detector_states` keeps the latest snapshot of each
online detector per partition.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("trained_from", TS, nullable=False),
        sa.Column("trained_to", TS, nullable=False),
        sa.Column("training_events", sa.BigInteger, nullable=False),
        sa.Column("params", JSONB, nullable=False),
        sa.Column("metrics", JSONB, nullable=False),
        sa.Column("features", ARRAY(sa.Text), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_models"),
    )
    # "The latest model of a kind" and "a kind's models, newest first".
    op.create_index("ix_models_kind_created_at", "models", ["kind", sa.text("created_at DESC")])
    op.create_table(
        "detector_states",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("events_learned", sa.BigInteger, nullable=False),
        sa.Column("saved_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", "partition", name="pk_detector_states"),
    )


def downgrade() -> None:
    op.drop_table("detector_states")
    op.drop_index("ix_models_kind_created_at", "models")
    op.drop_table("models")
