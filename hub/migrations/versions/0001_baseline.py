"""Baseline: the record's tables, created where absent.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from hub.sqlite_store import SCHEMA, schema_statements

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables and indexes of ``SCHEMA`` that do not exist yet."""
    bind = op.get_bind()
    for statement in schema_statements(SCHEMA, bind.dialect.name):
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    """The baseline is not taken down: a record is never dropped by a migration."""
    raise NotImplementedError("the baseline of the record is not downgraded")
