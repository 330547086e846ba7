"""Server-side sessions: a login is a row, so that logging out or an admin's revoke ends it for good.

The cookie still carries a signed token (``hub.auth``), but the token also names a random session id, and a
token whose session is not in this table, or was revoked, or belongs to a user whose sessions were all revoked
after it was issued, is refused. The table lives in the record (``sessions`` of ``hub.sqlite_store.SCHEMA``, on
SQLite or PostgreSQL), so a revoke survives a restart, and with several hub workers behind a load balancer a
login made through one worker is accepted by every other, and a logout or revoke ends it everywhere (the
cookie's signing key, ``access.session_secret_env``, must then be the same on every worker). Tests and the
open mode use an in-memory table.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

from hub.connection import RecordConnection, connect


class SessionStore:
    """Live sessions by id; ``connect`` opens the record's connection on first use (None: in memory, lost at
    restart, which ends them)."""

    def __init__(self, connect: Callable[[], RecordConnection] | None = None) -> None:
        self._connect = connect
        self._lock = threading.Lock()
        self._conn: RecordConnection | None = None

    @property
    def _db(self) -> RecordConnection:
        # Opened on first use: the hub's store has made the tables by then (the app's lifespan opens it first).
        if self._conn is None:
            if self._connect is None:
                from hub.sqlite_store import SHARED_SCHEMA  # here: hub.config imports this module

                self._conn = connect("sqlite:///:memory:", tables=SHARED_SCHEMA)
            else:
                self._conn = self._connect()
        return self._conn

    def issue(self, user: str, now: float, expires_at: float) -> str:
        """A new session id for ``user`` (and forget the expired ones)."""
        session_id = secrets.token_urlsafe(24)
        with self._lock, self._db.transaction():
            self._db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            self._db.execute(
                'INSERT INTO sessions (id, "user", issued_at, expires_at) VALUES (?, ?, ?, ?)',
                (session_id, user, now, expires_at),
            )
        return session_id

    def active(self, session_id: str, user: str, now: float) -> bool:
        """Whether the session exists, belongs to ``user``, is unexpired and was not revoked."""
        with self._lock:
            row = self._db.execute(
                'SELECT 1 FROM sessions WHERE id = ? AND "user" = ? AND revoked_at IS NULL AND expires_at >= ?',
                (session_id, user, now),
            ).fetchone()
        return row is not None

    def revoke(self, session_id: str, now: float) -> bool:
        """End one session (logout); whether it was live."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, session_id)
            )
        return bool(cursor.rowcount > 0)

    def revoke_user(self, user: str, now: float) -> int:
        """End every session of ``user`` (password change, admin revoke); how many were live."""
        with self._lock:
            cursor = self._db.execute(
                'UPDATE sessions SET revoked_at = ? WHERE "user" = ? AND revoked_at IS NULL AND expires_at >= ?',
                (now, user, now),
            )
        return int(cursor.rowcount)

    def count(self, user: str, now: float) -> int:
        """How many live sessions ``user`` has."""
        with self._lock:
            row = self._db.execute(
                'SELECT COUNT(*) FROM sessions WHERE "user" = ? AND revoked_at IS NULL AND expires_at >= ?', (user, now)
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection (idempotent; a later use opens it again)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
