"""Versioned migrations of the record's schema (Alembic), the same revisions on SQLite and PostgreSQL.

The stores call ``upgrade`` when they open the record: a record already at ``HEAD`` costs one query; an empty
one gets every revision; a record made by an older release is upgraded in place (rows, and SQLite's rowids
that the sinks follow, kept). Revisions live in ``versions/``:

- ``0001`` baseline: the tables of ``hub.sqlite_store.SCHEMA`` (created if absent, in each engine's types);
- ``0002``: the rating verdict columns (``flags``, ``counted``, ``hub_flags``) on records made before them;
- ``0003``: messages keyed per device and kind (site, desk, kind, id) on records keyed by the id alone;
- ``0004``: PostgreSQL only, a ``rowid`` column (identity, unique) on messages, alerts, ratings, comments and
  emotions: the positions the sinks and the reports read by, as SQLite's own.
- ``0005``: the alert outbox's claim columns (``claimed_by``, ``claimed_until``: one worker sends a delivery).
- ``0006``: the sinks' exact position with several workers: PostgreSQL's messages and alerts keep the id of the
  transaction that inserted each row (``xact``), and ``sink_cursors`` the ``xact`` of the last row delivered.
- ``0007``: a node's heartbeat keeps its own time (``nodes.heartbeat_at``): a late, older one replaces nothing.
- ``0008``: the roll-ups' times packed (``*_values`` text becomes ``*_times``, 8-byte doubles), converted exactly.
- ``0009``: each hub worker's MQTT session progress (``hub_workers.drained_to``, ``probed_at``: hub/progress.py).

A new change of the schema is a new revision here, never an edit of an old one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

HEAD = "0009"
ADVISORY_LOCK = 4242001  # PostgreSQL: one worker migrates at a time
_lock = threading.Lock()


def current_revision(query: Callable[[str], Any]) -> str | None:
    """The record's revision, read with ``query`` (a function running one SQL statement; None: no table)."""
    try:
        row = query("SELECT version_num FROM alembic_version").fetchone()
    except Exception:  # noqa: BLE001 -- no alembic_version table yet: an empty or a pre-migration record
        return None
    return None if row is None else str(row[0])


def upgrade(sqlalchemy_url: str) -> None:
    """Bring the record at ``sqlalchemy_url`` (``sqlite:///…`` or ``postgresql+psycopg://…``) to ``HEAD``."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, pool, text

    config = Config()
    config.set_main_option("script_location", "hub:migrations")
    engine = create_engine(sqlalchemy_url, poolclass=pool.NullPool)
    with _lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
