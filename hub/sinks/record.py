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

READER_CONNECTIONS = 4
CURSOR_TABLE = "CREATE TABLE IF NOT EXISTS sink_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)"


class RecordReader:
    """Reads rows of the record by position, and keeps the sinks' cursors.

    ``database`` is the record's URL (``sqlite:///…`` or ``postgresql://…``), or an SQLite file. Connections
    are lent to one call at a time, at most ``connections`` at once: the dashboard's requests come from many
    threads, and a PostgreSQL server shared by several workers has a bounded number of connections.
    """

    def __init__(self, database: str | Path, connections: int = READER_CONNECTIONS) -> None:
        self._database = database
        self._connections: list[RecordConnection] = []
        self._idle: list[RecordConnection] = []
        self._slots = threading.BoundedSemaphore(connections)
        self._lock = threading.Lock()
        self._cursor_table = False

    def _fetch(self, sql: str, args: tuple[Any, ...] = (), *, write: bool = False) -> tuple[list[str], list[Any]]:
        """Run one statement on a lent connection: the column names and every row."""
        with self._slots:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = connect(self._database)
                with self._lock:
                    self._connections.append(conn)
            try:
                if write and not self._cursor_table:
                    conn.execute_script(CURSOR_TABLE)
                    self._cursor_table = True
                cursor = conn.execute(sql, args)
                names = [column[0] for column in cursor.description] if cursor.description else []
                rows = cursor.fetchall() if cursor.description else []
            except BaseException:
                with self._lock:  # a connection that failed is not lent again
                    self._connections.remove(conn)
                conn.close()
                raise
            with self._lock:
                self._idle.append(conn)
        return names, rows

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
        names, rows = self._fetch(sql, args)
        return [dict(zip(names, row, strict=True)) for row in rows]

    # -- cursors -------------------------------------------------------------------------------------------

    def cursor(self, name: str) -> int:
        """Position of the last row the sink ``name`` delivered (0: none yet)."""
        _, rows = self._fetch("SELECT seq FROM sink_cursors WHERE name = ?", (name,), write=True)
        return int(rows[0][0]) if rows else 0

    def save_cursor(self, name: str, seq: int) -> None:
        """Remember that the sink ``name`` delivered every row up to ``seq``."""
        self._fetch(
            "INSERT INTO sink_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            (name, seq),
            write=True,
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
        _, rows = self._fetch(
            "SELECT (SELECT COALESCE(MAX(rowid), 0) FROM messages), (SELECT COALESCE(MAX(rowid), 0) FROM alerts)"
        )
        return int(rows[0][0]), int(rows[0][1])

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
        _, rows = self._fetch(
            "SELECT ts, score, scale, counted FROM ratings WHERE site = ? AND day = ? ORDER BY ts", (site, day)
        )
        return [(row[0], int(row[1]), row[2], bool(row[3])) for row in rows]

    def close(self) -> None:
        """Close every connection (idempotent)."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._idle.clear()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def as_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as plain mappings."""
    return [dict(row) for row in rows]
