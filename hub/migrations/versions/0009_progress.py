"""How far each hub worker's MQTT session is drained (hub/progress.py): ``hub_workers`` gains ``drained_to`` (the
send time of the newest probe committed) and ``probed_at`` (when the session was last probed), POSIX seconds.
Rows kept before this revision get NULL: a session not probed yet, which holds no gap back until it is.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("drained_to", "probed_at")


def upgrade() -> None:
    """Add the columns to ``hub_workers`` where it lacks them (a table made from the newer schema has them; a
    record without the table gets it, with them, from the schema)."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table("hub_workers"):
        return
    present = {column["name"] for column in inspector.get_columns("hub_workers")}
    kind = "DOUBLE PRECISION" if bind.dialect.name == "postgresql" else "REAL"
    for column in COLUMNS:
        if column not in present:
            bind.exec_driver_sql(f"ALTER TABLE hub_workers ADD COLUMN {column} {kind}")


def downgrade() -> None:
    """The columns stay: not downgraded."""
    raise NotImplementedError("the progress columns of hub_workers are not removed")
