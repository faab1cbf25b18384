"""Dead letters of a request retried with the same `Idempotency-Key` are stored once.

A dead letter from the log is unique by its log position; one from `POST /v1/events` had no
identity, so a client retrying after a lost response stored the same invalid event again.
With the request's key and the item's index it is unique too (NULLs, i.e. no key, never collide).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "ix_failed_events_request_key_request_index"


def upgrade() -> None:
    op.add_column("failed_events", sa.Column("request_key", sa.String(255)))
    op.add_column("failed_events", sa.Column("request_index", sa.Integer))
    op.create_index(INDEX, "failed_events", ["request_key", "request_index"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="failed_events")
    op.drop_column("failed_events", "request_index")
    op.drop_column("failed_events", "request_key")
