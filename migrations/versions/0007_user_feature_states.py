"""Users' feature states, saved so a restarted scorer need not replay their past events.

A scorer rebuilt a returning user's state from up to 500 stored events; after a restart that
is every active user at once (about 15 µs per stored event). A saved state is used only while
it holds all of the user's stored events: `events_total` is their count when it was saved,
compared with `users.total_events` when it is read back.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_feature_states",
        sa.Column("user_id", sa.String(50), nullable=False),
        sa.Column("events_total", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_feature_states"),
    )


def downgrade() -> None:
    op.drop_table("user_feature_states")
