"""Read-only connections to the record, separate from the hub's own, for computing reports.

SQLite in WAL mode lets these connections read a consistent snapshot while the hub keeps writing: a report
never takes the hub's write lock and never blocks ingest. Independent aggregates of one report (the
transactions, the ratings, the comments, the emotions) run on two reader threads, each with its own
connection: SQLite releases Python's interpreter lock while it computes, so on a machine with two cores a
report takes about as long as its largest aggregate.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from hub.database import sqlite_record_path
from protocol.errors import OneStopError

T = TypeVar("T")
READER_THREADS = 2


class RecordError(OneStopError, OSError):
    """The record cannot be opened for reading."""


def database_path(url: str) -> Path:
    """The file a ``sqlite:///…`` database URL names (the reports read SQLite directly for now).

    Raises:
        ConfigError: the URL is not an SQLite URL.
    """
    return sqlite_record_path(url, "the reports")


def open_record(url: str) -> sqlite3.Connection:
    """A read-only connection to the record at ``url``, tuned for large aggregates.

    Raises:
        ConfigError: the URL is not an SQLite URL.
        RecordError: there is no record at that path.
    """
    path = database_path(url)
    if not path.is_file():
        raise RecordError(f"no record at {path}: run the hub first or give --database")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=30)
    # Sorting for GROUP BY happens in memory, with a page cache large enough for a province's year.
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-131072")
    return conn


class Record:
    """The record opened for reports: a pool of reader threads, each with its own read-only connection."""

    def __init__(self, url: str, threads: int = READER_THREADS) -> None:
        open_record(url).close()  # fail here, with the reason, rather than inside a worker
        self.url = url
        self.threads = max(1, threads)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="report-reader")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_record(self.url)
            with self._lock:
                self._connections.append(conn)
        return conn

    def submit(self, task: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Start a task on a reader thread, with that thread's connection."""
        return self._pool.submit(lambda: task(self.connection()))

    def run(self, *tasks: Callable[[sqlite3.Connection], Any]) -> list[Any]:
        """Run each task with a connection of its own, in parallel; their results in order."""
        futures = [self.submit(task) for task in tasks]
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the threads and close every connection (idempotent)."""
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def __enter__(self) -> Record:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
