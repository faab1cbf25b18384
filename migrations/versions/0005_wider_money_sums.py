"""Sums of money as NUMERIC(38, 2): a user's total spent and daily/windowed revenue.

They were as wide as a single event's value (NUMERIC(15, 2)) or barely wider (18, 2), so two
maximal purchases of one user overflowed `users.total_spent`, and every later purchase of that
user failed to store. Widening a numeric keeps every value.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = [("users", "total_spent", 15), ("daily_stats", "revenue", 18), ("realtime_windows", "revenue", 18)]


def upgrade() -> None:
    for table, column, _ in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(38, 2), existing_nullable=False)


def downgrade() -> None:
    for table, column, precision in _COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(precision, 2), existing_nullable=False)
