"""A node's stored heartbeat keeps its own time (``nodes.heartbeat_at``, fixed-width UTC text), so that a late,
older heartbeat no longer replaces a newer one. Rows kept before this revision get NULL: their next heartbeat
replaces the stored one, as before.

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
    """Add ``heartbeat_at`` to ``nodes`` where it lacks it (a record made from the newer schema has it)."""
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("nodes") and "heartbeat_at" not in {c["name"] for c in inspector.get_columns("nodes")}:
        op.add_column("nodes", sa.Column("heartbeat_at", sa.Text(), nullable=True))


def downgrade() -> None:
    """The column stays: not downgraded."""
    raise NotImplementedError("the heartbeat_at column is not removed")
