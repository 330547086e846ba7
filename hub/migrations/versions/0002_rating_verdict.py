"""The rating verdict columns (the kiosk's flags, the hub's verdict and its reasons) on older records.

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


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("flags", sa.Text()),
        sa.Column("counted", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("hub_flags", sa.Text()),
    ]


def upgrade() -> None:
    """Add each column that the ratings table lacks."""
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("ratings")}
    for column in _columns():
        if column.name not in present:
            op.add_column("ratings", column)


def downgrade() -> None:
    """Ratings keep their verdict: not downgraded."""
    raise NotImplementedError("the rating verdict columns are not removed")
