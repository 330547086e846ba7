"""The audit log: who read or exported personnel data and comment texts, who changed users or entered points.

Entries are append-only and kept in the record's own database file (table ``audit_log``), written from any
thread through a connection of their own, so that an API request never waits on the ingest writer for long.
Every entry names the actor (a user name, an API key's name, or ``system``), what was done, on what, and
when (UTC). Nothing is ever updated or deleted here except by the retention purge.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One thing a person (or the system) did that must be answerable later."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The entry as the API returns it."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
        }


class AuditLog:
    """Append-only log in the record's SQLite file.

    Actions are short dotted names, e.g. ``report.evaluation.export``, ``feedback.text.read``,
    ``user.password.change``, ``evaluation.entry.add``. ``target`` names the unit, officer, user or period.
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def record(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append an entry and return it (committed before this returns)."""
        at = self._clock().astimezone(UTC)
        text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (at.isoformat(), actor, action, target, text),
            )
            seq = int(cursor.lastrowid or 0)
        return AuditEntry(seq, at, actor, action, target, detail or {})

    def entries(
        self,
        limit: int = 100,
        before_seq: int | None = None,
        action_prefix: str | None = None,
        actor: str | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, optionally filtered by action prefix and actor, paged by ``before_seq``."""
        clauses: list[str] = []
        args: list[Any] = []
        if before_seq is not None:
            clauses.append("seq < ?")
            args.append(before_seq)
        if action_prefix:
            clauses.append("action LIKE ? ESCAPE '\\'")
            args.append(action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if actor:
            clauses.append("actor = ?")
            args.append(actor)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        args.append(max(1, min(limit, 1000)))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT seq, at, actor, action, target, detail FROM audit_log {where} ORDER BY seq DESC LIMIT ?",
                args,
            ).fetchall()
        return [
            AuditEntry(int(seq), datetime.fromisoformat(at), actor_, action, target, json.loads(detail))
            for seq, at, actor_, action, target, detail in rows
        ]

    def purge_before(self, moment: datetime) -> int:
        """Delete entries older than ``moment`` (the retention purge); returns how many went."""
        with self._lock:
            cursor = self._conn.execute("DELETE FROM audit_log WHERE at < ?", (moment.astimezone(UTC).isoformat(),))
        return cursor.rowcount

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
