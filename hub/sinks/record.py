"""The sinks' and the dashboard charts' own connections to the record (SQLite or PostgreSQL), apart from the
hub's writer.

Reads see committed data only, so they never hold up ingest. The sinks keep their position in the record (a
cursor per stream of rows) in the table ``sink_cursors`` of the record itself: a copy of the record carries
the position with it, and after any outage a sink resumes exactly where its last write succeeded.

A position is a :class:`Position`: the row's ``rowid`` (SQLite's own; an identity column of the same name on
PostgreSQL, revision 0004) behind ``xact``, the id of the transaction that inserted it. On SQLite ``xact`` is
always 0: one writer at a time, so rows commit in ``rowid`` order. On PostgreSQL several hub workers insert at
once and a ``rowid`` is taken at insert, not at commit: a row that commits late can sit below one a sink has
passed already. So rows are read in (``xact``, ``rowid``) order (``xact`` is filled by the column's default,
``pg_current_xact_id()``, revision 0006), and only rows whose transaction is older than the oldest one still
running (``pg_snapshot_xmin`` of the reading statement's snapshot): those have all committed or rolled back
for good, and every row still to come has a larger ``xact``. A sink therefore never passes a row that may
still appear below its cursor; it waits for a transaction in progress (a batch takes milliseconds).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from hub.connection import RecordConnection, connect
from hub.database import Engine, parse_database_url

READER_CONNECTIONS = 4
CURSOR_TABLE = (
    "CREATE TABLE IF NOT EXISTS sink_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, "
    "xact INTEGER NOT NULL DEFAULT 0)"
)
# PostgreSQL: rows after a position whose inserting transaction ended for good, in the order a sink follows.
_SETTLED_AFTER = (
    "(xact, rowid) > (?, ?) AND xact < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY xact, rowid"
)


class Position(NamedTuple):
    """Where a sink stands in a table: after the row ``seq`` (its ``rowid``) of the transaction ``xact``
    (0 on SQLite, and for rows kept before revision 0006). Positions compare in the order rows are read."""

    xact: int
    seq: int


START = Position(0, 0)


def position_of(row: dict[str, Any]) -> Position:
    """The position of a row of :meth:`RecordReader.messages_after` or :meth:`RecordReader.alerts_after`."""
    return Position(int(row["xact"]), int(row["seq"]))


def _position(after: Position | int) -> Position:
    return after if isinstance(after, Position) else Position(0, after)


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
        self._postgresql = isinstance(database, str) and parse_database_url(database).engine is Engine.POSTGRESQL

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

    def cursor(self, name: str) -> Position:
        """Position of the last row the sink ``name`` delivered (``START``: none yet)."""
        _, rows = self._fetch("SELECT xact, seq FROM sink_cursors WHERE name = ?", (name,), write=True)
        return Position(int(rows[0][0]), int(rows[0][1])) if rows else START

    def save_cursor(self, name: str, position: Position) -> None:
        """Remember that the sink ``name`` delivered every row up to ``position``."""
        self._fetch(
            "INSERT INTO sink_cursors (name, seq, xact) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, xact = excluded.xact",
            (name, position.seq, position.xact),
            write=True,
        )

    # -- rows by position ----------------------------------------------------------------------------------

    def _after(self, columns: str, table: str, after: Position | int, limit: int) -> list[dict[str, Any]]:
        """Rows of ``table`` after a position, in the order a sink follows (see the module's note)."""
        position = _position(after)
        if self._postgresql:
            sql = f"SELECT rowid AS seq, xact, {columns} FROM {table} WHERE {_SETTLED_AFTER} LIMIT ?"
            return self._rows(sql, (position.xact, position.seq, limit))
        sql = f"SELECT rowid AS seq, 0 AS xact, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        return self._rows(sql, (position.seq, limit))

    def messages_after(self, after: Position | int, limit: int) -> list[dict[str, Any]]:
        """Accepted messages stored after a position (an int: a ``rowid``), oldest first: ``seq``, ``xact``
        (see :class:`Position`), ``kind``, ``payload``, and ``counted``: whether the hub counts a rating (None
        for other kinds)."""
        # With a rating, the hub's verdict on it (its own checks and the kiosk's flags together).
        counted = (
            "CASE WHEN kind = 'rating' THEN (SELECT counted FROM ratings r WHERE r.id = messages.site || '/' || "
            "messages.desk || '/' || messages.id OR r.id = messages.id LIMIT 1) END AS counted"
        )
        return self._after(f"kind, payload, {counted}", "messages", after, limit)

    def alerts_after(self, after: Position | int, limit: int) -> list[dict[str, Any]]:
        """Alerts the hub raised or cleared after a position: ``seq``, ``xact``, ``payload``."""
        return self._after("payload", "alerts", after, limit)

    def last_positions(self) -> tuple[Position, Position]:
        """The newest positions of messages and alerts (of rows committed or not yet settled alike)."""
        order = "xact DESC, rowid DESC" if self._postgresql else "rowid DESC"
        newest = []
        for table in ("messages", "alerts"):
            _, rows = self._fetch(
                f"SELECT {'xact' if self._postgresql else '0'}, rowid FROM {table} ORDER BY {order} LIMIT 1"
            )
            newest.append(Position(int(rows[0][0]), int(rows[0][1])) if rows else START)
        return newest[0], newest[1]

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
