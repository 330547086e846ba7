"""The one kind of connection to the record, on either engine: the PostgreSQL store's own writer, the parts that
write beside the ingest (``Store.connect()``: audit log, alert outbox, sessions, evaluation entries), the reports,
the sinks' cursors, the dashboard's charts, the retention purge and a comment's erasure.

Each speaks the store's SQLite dialect on both engines: on PostgreSQL every statement goes through
``hub.postgres_store.translate`` (the same translation as the store's own), so a query is written once; outside
:meth:`RecordConnection.transaction` each statement commits by itself. On SQLite (WAL) a connection reads
committed data only and never holds up ingest; on PostgreSQL it is a connection of its own in autocommit,
read-only when asked (``default_transaction_read_only``). One thread at a time (its owner holds a lock).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.database import DatabaseUrl, Engine, parse_database_url
from protocol.errors import ConfigError, OneStopError


class RecordError(OneStopError, OSError):
    """The record cannot be opened."""


class RecordConnection:
    """One connection to the record (SQLite or PostgreSQL) taking the store's SQLite statements."""

    def __init__(self, raw: Any, engine: Engine) -> None:
        self.raw = raw  # the sqlite3 or psycopg connection, for a statement of one engine (the store's own)
        self.engine = engine

    @property
    def postgresql(self) -> bool:
        """Whether the record is in PostgreSQL."""
        return self.engine is Engine.POSTGRESQL

    def execute(self, sql: str, args: Sequence[Any] = (), *, binary: bool = False) -> Any:
        """Run one SQLite-dialect statement; a cursor (``fetchone``, ``fetchall``, iteration, ``rowcount``).
        ``binary``: PostgreSQL sends the results in its binary format (a ``bytea`` as it is, not in hex)."""
        if self.engine is Engine.POSTGRESQL:
            from hub.postgres_store import translate

            # always parameters: "%%" stands for "%"
            return self.raw.execute(translate(sql), tuple(args), binary=binary)
        return self.raw.execute(sql, tuple(args))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Run one SQLite-dialect statement for each row."""
        if self.engine is Engine.POSTGRESQL:
            from hub.postgres_store import translate

            with self.raw.cursor() as cursor:
                cursor.executemany(translate(sql), rows)
            return
        self.raw.executemany(sql, rows)

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run an INSERT of one row into a table keyed by ``seq`` (an identity); the new row's ``seq`` (SQLite:
        the rowid, no RETURNING before SQLite 3.35)."""
        if self.engine is Engine.POSTGRESQL:
            return int(self.execute(sql + " RETURNING seq", args).fetchone()[0])
        return int(self.raw.execute(sql, tuple(args)).lastrowid or 0)

    def execute_script(self, script: str) -> None:
        """Run a schema script of ``CREATE … IF NOT EXISTS`` statements (in each engine's types)."""
        if self.engine is Engine.POSTGRESQL:
            from hub.sqlite_store import schema_statements

            for statement in schema_statements(script, "postgresql"):
                self.raw.execute(statement)
        else:
            self.raw.executescript(script)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all (SQLite: the one writer's lock, taken at once)."""
        if self.engine is Engine.POSTGRESQL:
            with self.raw.transaction():
                yield
            return
        self.raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        self.raw.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        """Whether the record has this table (an SQLite record made by an older release may lack some)."""
        if self.engine is Engine.POSTGRESQL:
            sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        else:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self.execute(sql, (name,)).fetchone() is not None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.raw.close()


def _connect_postgresql(database: DatabaseUrl, read_only: bool) -> Any:
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - the hub extra installs it
        raise ConfigError("database URL postgresql://…: psycopg is not installed (pip install psycopg)") from error
    try:
        conn = psycopg.connect(database.dsn or "", autocommit=True)
    except psycopg.OperationalError as error:
        raise RecordError(f"database: cannot connect to PostgreSQL: {error}".strip()) from error
    if read_only:
        conn.execute("SET default_transaction_read_only = on")
    return conn


def _connect_sqlite(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        if not path.is_file():
            raise RecordError(f"no record at {path}: run the hub first or give --database")
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def connect(url: str | Path, *, read_only: bool = False, tuned: bool = False, tables: str = "") -> RecordConnection:
    """A connection to the record a database URL names (a ``Path``: an SQLite file; ``sqlite:///:memory:``: a
    private in-memory one); ``tables``: a schema script run at once (:meth:`RecordConnection.execute_script`).

    Raises:
        ConfigError: the URL is not valid.
        RecordError: read-only, there is no SQLite record at that path; or PostgreSQL cannot be reached.
    """
    database = parse_database_url(f"sqlite:///{url}" if isinstance(url, Path) else url)
    if database.engine is Engine.POSTGRESQL:
        conn = RecordConnection(_connect_postgresql(database, read_only), Engine.POSTGRESQL)
        if tuned:  # a year's waits per officer are kept in memory for the percentiles, not spilled to disk
            conn.raw.execute("SET work_mem = '64MB'")
            # A report runs a few large aggregates, each once: compiling them (the JIT, on by default once a
            # plan's estimate is large, as a set-returning function's rows make it) cost more than it saved,
            # up to 1.2 s for a query that runs in 0.2 s without it (the yearly evaluation's scores).
            conn.raw.execute("SET jit = off")
    else:
        assert database.path is not None
        conn = RecordConnection(_connect_sqlite(database.path, read_only), Engine.SQLITE)
        if tuned:  # sorting for GROUP BY in memory, with a page cache large enough for a province's year
            conn.raw.execute("PRAGMA temp_store=MEMORY")
            conn.raw.execute("PRAGMA cache_size=-131072")
    if tables:
        conn.execute_script(tables)
    return conn
