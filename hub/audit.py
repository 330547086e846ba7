"""The audit log: who read or exported personnel data and comment texts, who changed users or entered points.

Entries are append-only and kept in the record (table ``audit_log`` of ``hub.sqlite_store.SCHEMA``, on SQLite
or PostgreSQL), written from any thread through a connection of their own, so that an API request never waits
on the ingest writer for long. With several hub workers on one PostgreSQL record every worker writes into the
one log, and any worker's API shows every worker's entries.
Every entry names the actor (a user name, an API key's name, or ``system``), what was done, on what, and
when (UTC). Nothing is ever updated or deleted here except by the retention purge.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.connection import RecordConnection, connect


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
    """Append-only log in the record, through a connection of its own (``Store.connect()``; a path: an SQLite
    record file).

    Actions are short dotted names, e.g. ``report.evaluation.export``, ``feedback.text.read``,
    ``user.password.change``, ``evaluation.entry.add``. ``target`` names the unit, officer, user or period.
    """

    def __init__(
        self, record: RecordConnection | Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        from hub.sqlite_store import SHARED_SCHEMA  # here: hub.sqlite_store imports hub.config

        self._conn = connect(record, tables=SHARED_SCHEMA) if isinstance(record, Path) else record

    def record(self, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> AuditEntry:
        """Append an entry and return it (committed before this returns)."""
        at = self._clock().astimezone(UTC)
        text = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)
        with self._lock:
            seq = self._conn.insert(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (at.isoformat(), actor, action, target, text),
            )
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
