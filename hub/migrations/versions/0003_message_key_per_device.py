"""Messages deduplicated per device and kind: the key (site, desk, kind, id) on records keyed by the id alone.

The table is rebuilt once (SQLite cannot change a primary key in place); rows keep their rowids, which the
sinks follow. A record created with the baseline already has the key: nothing to do.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REBUILD = (
    "CREATE TABLE messages_keyed (id TEXT NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL, "
    "ts TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (site, desk, kind, id))",
    "INSERT INTO messages_keyed (rowid, id, kind, site, desk, ts, received_at, payload) "
    "SELECT rowid, id, kind, site, desk, ts, received_at, payload FROM messages ORDER BY rowid",
    "DROP TABLE messages",
    "ALTER TABLE messages_keyed RENAME TO messages",
)


def upgrade() -> None:
    """Rebuild the messages table under the per-device key when it is keyed by the id alone."""
    bind = op.get_bind()
    key = sa.inspect(bind).get_pk_constraint("messages")["constrained_columns"]
    if key != ["id"]:
        return
    if bind.dialect.name != "sqlite":  # PostgreSQL records were created with the per-device key
        op.drop_constraint("messages_pkey", "messages", type_="primary")
        op.create_primary_key("messages_pkey", "messages", ["site", "desk", "kind", "id"])
        return
    for statement in REBUILD:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    """Keys per device stay: not downgraded."""
    raise NotImplementedError("the per-device message key is not downgraded")
