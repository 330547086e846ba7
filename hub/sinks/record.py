"""The sinks' and the dashboard charts' own connections to the record (SQLite or PostgreSQL), apart from the
hub's writer.

Reads see committed data only, so they never hold up ingest. The sinks keep their position in the record (a
cursor per stream of rows) in the table ``sink_cursors`` of the record itself: a copy of the record carries
the position with it, and after any outage a sink resumes exactly where its last write succeeded. A position
is the row's ``rowid``: SQLite's own, a generated column of the same name on PostgreSQL (revision 0004).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from hub.connection import RecordConnection, connect

CURSOR_TABLE = "CREATE TABLE IF NOT EXISTS sink_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)"


class RecordReader:
    """Reads rows of the record by position, and keeps the sinks' cursors; one connection per thread.

    ``database`` is the record's URL (``sqlite:///…`` or ``postgresql://…``), or an SQLite file.
    """

    def __init__(self, database: str | Path) -> None:
        self._database = database
        self._local = threading.local()
        self._connections: list[RecordConnection] = []
        self._lock = threading.Lock()
        self._cursor_table = False

    def _conn(self) -> RecordConnection:
        conn: RecordConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._database)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = self._conn().execute(sql, args)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _cursors(self) -> RecordConnection:
        conn = self._conn()
        if not self._cursor_table:
            conn.execute_script(CURSOR_TABLE)
            self._cursor_table = True
        return conn

    # -- cursors -------------------------------------------------------------------------------------------

    def cursor(self, name: str) -> int:
        """Position of the last row the sink ``name`` delivered (0: none yet)."""
        row = self._cursors().execute("SELECT seq FROM sink_cursors WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def save_cursor(self, name: str, seq: int) -> None:
        """Remember that the sink ``name`` delivered every row up to ``seq``."""
        self._cursors().execute(
            "INSERT INTO sink_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            (name, seq),
        )

    # -- rows by position ----------------------------------------------------------------------------------

    def messages_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Accepted messages stored after position ``seq``: ``seq``, ``kind``, ``payload``, oldest first, and
        ``counted``: whether the hub counts a rating (None for other kinds)."""
        return self._rows(
            # With a rating, the hub's verdict on it (its own checks and the kiosk's flags together).
            "SELECT rowid AS seq, kind, payload, CASE WHEN kind = 'rating' THEN (SELECT counted FROM ratings r "
            "WHERE r.id = messages.site || '/' || messages.desk || '/' || messages.id OR r.id = messages.id "
            "LIMIT 1) END AS counted FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (seq, limit),
        )

    def alerts_after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """Alerts the hub raised or cleared after position ``seq``: ``seq``, ``payload``."""
        return self._rows(
            "SELECT rowid AS seq, payload FROM alerts WHERE rowid > ? ORDER BY rowid LIMIT ?", (seq, limit)
        )

    def last_positions(self) -> tuple[int, int]:
        """The newest positions of messages and alerts."""
        conn = self._conn()
        messages = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM messages").fetchone()[0]
        alerts = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM alerts").fetchone()[0]
        return int(messages), int(alerts)

    def transactions(self, site: str, day: str, ticket: str) -> list[dict[str, Any]]:
        """The transactions of one visit as the hub rebuilt them."""
        return self._rows(
            "SELECT seq, desk, staff, service, called_at, ended_at, end_reason, wait_s, service_s "
            "FROM transactions WHERE site = ? AND day = ? AND ticket = ? ORDER BY seq",
            (site, day, ticket),
        )

    # -- for the dashboard's charts ------------------------------------------------------------------------

    def rating_times(self, site: str, day: str) -> list[tuple[str, int, int | None, bool]]:
        """Counted and uncounted ratings of a unit on a local day: (UTC time, score, scale, counted)."""
        rows = self._conn().execute(
            "SELECT ts, score, scale, counted FROM ratings WHERE site = ? AND day = ? ORDER BY ts", (site, day)
        )
        return [(row[0], int(row[1]), row[2], bool(row[3])) for row in rows]

    def close(self) -> None:
        """Close every connection (idempotent)."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def as_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as plain mappings."""
    return [dict(row) for row in rows]
