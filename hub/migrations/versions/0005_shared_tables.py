"""Alert deliveries claimed by one hub worker for a lease: ``claimed_by`` and ``claimed_until`` on the outbox.

The audit log, sessions, alert delivery and evaluation entry tables are in ``hub.sqlite_store.SCHEMA`` (created
where absent at each start); on an SQLite record they were already in the record's file, written by earlier
releases, and keep their rows. Only the outbox of such a record lacks the two claim columns.

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

TABLE = "notify_outbox"


def upgrade() -> None:
    """Add each claim column that an existing outbox lacks (a record without an outbox gets it from SCHEMA)."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(TABLE):
        return
    present = {column["name"] for column in inspector.get_columns(TABLE)}
    for name in ("claimed_by", "claimed_until"):
        if name not in present:
            op.add_column(TABLE, sa.Column(name, sa.Text()))


def downgrade() -> None:
    """The claim columns stay: not downgraded."""
    raise NotImplementedError("the outbox claim columns are not removed")
