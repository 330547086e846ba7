"""Read-only connections to the record, separate from the hub's own, for computing reports (SQLite or PostgreSQL).

SQLite in WAL mode lets these connections read a consistent snapshot while the hub keeps writing: a report
never takes the hub's write lock and never blocks ingest. Independent aggregates of one report (the
transactions, the ratings, the comments, the emotions) run on two reader threads, each with its own
connection: SQLite releases Python's interpreter lock while it computes, so on a machine with two cores a
report takes about as long as its largest aggregate. On PostgreSQL each reader thread holds a read-only
connection of its own (the pool is the threads'), and the reports' SQLite statements are translated
(``hub.connection``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from hub.connection import RecordConnection, RecordError, connect
from hub.database import Engine, parse_database_url

__all__ = ["READER_THREADS", "Record", "RecordConnection", "RecordError", "open_record"]

T = TypeVar("T")
READER_THREADS = 2


def open_record(url: str) -> RecordConnection:
    """A read-only connection to the record at ``url``, tuned for large aggregates.

    Raises:
        ConfigError: the URL is not valid.
        RecordError: there is no SQLite record at that path, or PostgreSQL cannot be reached.
    """
    return connect(url, read_only=True, tuned=True)


class Record:
    """The record opened for reports: a pool of reader threads, each with its own read-only connection."""

    def __init__(self, url: str, threads: int = READER_THREADS) -> None:
        open_record(url).close()  # fail here, with the reason, rather than inside a worker
        self.url = url
        self.engine = parse_database_url(url).engine
        self.threads = max(1, threads)
        self._local = threading.local()
        self._connections: list[RecordConnection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="report-reader")

    @property
    def postgresql(self) -> bool:
        """Whether the record is in PostgreSQL."""
        return self.engine is Engine.POSTGRESQL

    def connection(self) -> RecordConnection:
        """This thread's connection (opened on first use)."""
        conn: RecordConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_record(self.url)
            with self._lock:
                self._connections.append(conn)
        return conn

    def submit(self, task: Callable[[RecordConnection], T]) -> Future[T]:
        """Start a task on a reader thread, with that thread's connection."""
        return self._pool.submit(lambda: task(self.connection()))

    def run(self, *tasks: Callable[[RecordConnection], Any]) -> list[Any]:
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
