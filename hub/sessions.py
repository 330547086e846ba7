"""Server-side sessions: a login is a row, so that logging out or an admin's revoke ends it for good.

The cookie still carries a signed token (``hub.auth``), but the token also names a random session id, and a
token whose session is not in this table, or was revoked, or belongs to a user whose sessions were all revoked
after it was issued, is refused. The table lives in the record's SQLite file (``sessions``), so a revoke
survives a restart; tests and the open mode use an in-memory one.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL,
    revoked_at REAL);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user);
"""


class SessionStore:
    """Live sessions by id; ``path`` None keeps them in memory (lost at restart, which ends them)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            ":memory:" if path is None else path, isolation_level=None, check_same_thread=False, timeout=30
        )
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def issue(self, user: str, now: float, expires_at: float) -> str:
        """A new session id for ``user`` (and forget the expired ones)."""
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            self._conn.execute(
                "INSERT INTO sessions (id, user, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                (session_id, user, now, expires_at),
            )
        return session_id

    def active(self, session_id: str, user: str, now: float) -> bool:
        """Whether the session exists, belongs to ``user``, is unexpired and was not revoked."""
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM sessions WHERE id = ? AND user = ? AND revoked_at IS NULL AND expires_at >= ?",
                (session_id, user, now),
            ).fetchone()
        return row is not None

    def revoke(self, session_id: str, now: float) -> bool:
        """End one session (logout); whether it was live."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, session_id)
            )
        return cursor.rowcount > 0

    def revoke_user(self, user: str, now: float) -> int:
        """End every session of ``user`` (password change, admin revoke); how many were live."""
        with self._lock:
            cursor = self._conn.execute(
                "UPDATE sessions SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL AND expires_at >= ?",
                (now, user, now),
            )
        return cursor.rowcount

    def count(self, user: str, now: float) -> int:
        """How many live sessions ``user`` has."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE user = ? AND revoked_at IS NULL AND expires_at >= ?", (user, now)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
