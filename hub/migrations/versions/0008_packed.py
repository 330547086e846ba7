"""The roll-ups' times packed: ``*_values`` (comma-separated text) become ``*_times`` (8-byte doubles).

Each roll-up row keeps the exact times of its day (``hub.rollups``); as text, a yearly report spent most of its
time parsing them. They are now kept as IEEE 754 doubles, little-endian, read with ``numpy.frombuffer``. The
rows kept before are converted in place, each value exactly (the text held each double's shortest round-trip
form; both engines parse it correctly rounded), so a record upgraded gives the figures it gave: this matters
for the days whose raw events the retention has purged, which a rebuild could not recompute. PostgreSQL
converts on the server in one statement per table; SQLite in Python. A record without roll-up tables gets them
from the schema, already packed.

PostgreSQL also gets extended statistics on the officer's unit and field (``rollup_desk_days_officers``): without
them the planner guessed some 30,000 groups of (staff, site, service) where a province has about 1,300, sorted
a year's rows to group them, and read the yearly evaluation a third slower than with a hash aggregate.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Per table: (old text column, new packed column).
COLUMNS = {
    "rollup_unit_days": (("visit_wait_values", "visit_wait_times"),),
    "rollup_desk_days": (("wait_values", "wait_times"), ("handling_values", "handling_times")),
}
BATCH = 5000


def _packed_sql(column: str) -> str:
    """PostgreSQL: the packed times of a comma-separated text column, in the text's (ascending) order; each
    value's bytes as ``float8send`` gives them (big-endian), reversed."""
    reversed_bytes = " || ".join(f"substring(b FROM {i} FOR 1)" for i in range(8, 0, -1))
    return (
        f"COALESCE((SELECT string_agg({reversed_bytes}, ''::bytea ORDER BY n) FROM (SELECT float8send(v::float8) AS b, "
        f"n FROM unnest(string_to_array(NULLIF({column}, ''), ',')) WITH ORDINALITY AS t(v, n)) AS s), ''::bytea)"
    )


def _convert_sqlite(bind: sa.Connection, table: str, pairs: tuple[tuple[str, str], ...]) -> None:
    import numpy as np

    from hub.rollups import TIMES

    def packed(text: str | None) -> bytes:
        # numpy's parser is C's strtod, correctly rounded as float() is.
        return np.fromstring(text, dtype=np.float64, sep=",").astype(TIMES).tobytes() if text else b""

    olds = ", ".join(old for old, _ in pairs)
    sets = ", ".join(f"{new} = ?" for _, new in pairs)
    rows = bind.exec_driver_sql(f"SELECT rowid, {olds} FROM {table}").fetchall()
    for start in range(0, len(rows), BATCH):
        batch = [(*(packed(t) for t in row[1:]), row[0]) for row in rows[start : start + BATCH]]
        bind.exec_driver_sql(f"UPDATE {table} SET {sets} WHERE rowid = ?", batch)


STATISTICS = (
    "CREATE STATISTICS IF NOT EXISTS rollup_desk_days_officers (ndistinct) ON staff, site, service "
    "FROM rollup_desk_days"
)


def upgrade() -> None:
    """Add the packed columns, fill them from the text ones, drop the text ones (where a table has them)."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    postgresql = bind.dialect.name == "postgresql"
    if postgresql and inspector.has_table("rollup_desk_days"):
        bind.exec_driver_sql(STATISTICS)
    for table, pairs in COLUMNS.items():
        if not inspector.has_table(table):
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        todo = tuple((old, new) for old, new in pairs if old in present)
        if not todo:
            continue
        for _, new in todo:
            kind = "BYTEA NOT NULL DEFAULT ''::bytea" if postgresql else "BLOB NOT NULL DEFAULT x''"
            bind.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {new} {kind}")
        if postgresql:
            sets = ", ".join(f"{new} = {_packed_sql(old)}" for old, new in todo)
            bind.exec_driver_sql(f"UPDATE {table} SET {sets}")
            for _, new in todo:
                bind.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {new} DROP DEFAULT")
        else:
            _convert_sqlite(bind, table, todo)
        for old, _ in todo:
            bind.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {old}")
    if postgresql and inspector.has_table("rollup_desk_days"):
        bind.exec_driver_sql("ANALYZE rollup_desk_days")  # the statistics, and the rows rewritten


def downgrade() -> None:
    """The packed times stay: not downgraded."""
    raise NotImplementedError("the roll-ups' times are not turned back into text")
