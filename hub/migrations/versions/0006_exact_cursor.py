"""The sinks' exact position on PostgreSQL: each message and alert row keeps the id of the transaction that
inserted it (``xact``), and a sink's cursor keeps the ``xact`` of the last row it delivered.

With several hub workers a ``rowid`` is taken at insert, not at commit, so a row committed late can sit below one
the InfluxDB sink has passed; the sink now reads in (``xact``, ``rowid``) order, only rows whose transaction is
older than every one still running (``hub.sinks.record``). Rows kept before this revision get ``xact`` 0 (they
have committed long ago) and an existing cursor ``xact`` 0, so a sink resumes exactly where it stood. The column
is added with the constant default first (no rewrite of the table), then given its real default.
SQLite (one writer, rows commit in ``rowid`` order): only the cursor's column, unused there.

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

TABLES = ("messages", "alerts")
CURSORS = "sink_cursors"


def upgrade() -> None:
    """Add ``xact`` where a table lacks it (``sink_cursors`` is made by the first sink, with the column)."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if inspector.has_table(CURSORS) and "xact" not in {c["name"] for c in inspector.get_columns(CURSORS)}:
        op.add_column(CURSORS, sa.Column("xact", sa.BigInteger(), nullable=False, server_default="0"))
    if bind.dialect.name == "sqlite":
        return
    for table in TABLES:
        if "xact" in {column["name"] for column in inspector.get_columns(table)}:
            continue
        bind.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN xact BIGINT NOT NULL DEFAULT 0")
        bind.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN xact SET DEFAULT pg_current_xact_id()::text::bigint")
        bind.exec_driver_sql(f"CREATE INDEX {table}_by_xact ON {table} (xact, rowid)")


def downgrade() -> None:
    """The positions stay: not downgraded."""
    raise NotImplementedError("the xact columns are not removed")
