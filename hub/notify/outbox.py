"""The persistent side of alert delivery, in the record's own SQLite file.

Tables (all prefixed ``notify_``):

- ``notify_alerts``: every alert the hub raised or cleared, as the deliveries saw it, with the *root* alert it
  continues (a hub restart re-raises a still-open alert under a new id: it is the same alert for people);
- ``notify_outbox``: one row per alert, recipient, channel and stage (first delivery or escalation), unique,
  so that an alert goes out once per recipient and channel even across restarts; pending rows survive a
  restart and are sent then;
- ``notify_attempts``: every attempt of every delivery, with its outcome (the delivery log);
- ``notify_escalations``: the second person's turn, due at a time unless someone acknowledges first;
- ``notify_acks``: who acknowledged an alert, and when.

Each thread gets its own connection; writes are small and short, so the ingest writer never waits long.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocol.messages import AlertMessage, AlertState

SCHEMA = """
CREATE TABLE IF NOT EXISTS notify_alerts (
    alert_id TEXT PRIMARY KEY, root_id TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, ts TEXT NOT NULL, day TEXT NOT NULL, payload TEXT NOT NULL, cleared_at TEXT);
CREATE INDEX IF NOT EXISTS notify_alerts_open ON notify_alerts (site, desk, kind, cleared_at);
CREATE TABLE IF NOT EXISTS notify_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, recipient TEXT NOT NULL,
    channel TEXT NOT NULL, stage TEXT NOT NULL, created_at TEXT NOT NULL, due_at TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, sent_at TEXT, UNIQUE (alert_id, recipient, channel, stage));
CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox (status, channel, due_at);
CREATE TABLE IF NOT EXISTS notify_attempts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, outbox_seq INTEGER NOT NULL, at TEXT NOT NULL, ok INTEGER NOT NULL,
    duration_ms REAL NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notify_attempts_by_delivery ON notify_attempts (outbox_seq);
CREATE TABLE IF NOT EXISTS notify_escalations (
    root_id TEXT NOT NULL, to_recipient TEXT NOT NULL, from_recipient TEXT NOT NULL, due_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'waiting', decided_at TEXT, PRIMARY KEY (root_id, to_recipient));
CREATE TABLE IF NOT EXISTS notify_acks (
    root_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL);
"""


DELIVERY_COLUMNS = (
    "seq",
    "alert_id",
    "root_id",
    "site",
    "desk",
    "alert",
    "state",
    "recipient",
    "channel",
    "stage",
    "created_at",
    "due_at",
    "held",
    "status",
    "attempts",
    "last_error",
    "sent_at",
)


def utc_text(moment: datetime) -> str:
    """A moment as sortable UTC text (fixed width, so that text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One pending delivery: an alert to a recipient on a channel, first or as an escalation."""

    seq: int
    alert_id: str
    recipient: str
    channel: str
    stage: str
    attempts: int
    payload: str


@dataclass(frozen=True, slots=True)
class DueEscalation:
    """An escalation whose time has come."""

    root_id: str
    to_recipient: str
    from_recipient: str
    payload: str
    acknowledged: bool
    cleared: bool


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """Who acknowledged an alert."""

    root_id: str
    alert_id: str
    by: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        """As the API shows it."""
        return {"alert_id": self.alert_id, "root_id": self.root_id, "by": self.by, "at": self.at.isoformat()}


class Outbox:
    """The delivery tables in the record's SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection behind a lock (as the audit log): every statement here is short.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._closed = False

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _write(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    # -- alerts -------------------------------------------------------------------------------------------

    def known(self, alert_id: str) -> bool:
        """Whether the deliveries saw this alert already."""
        row = self._one("SELECT 1 FROM notify_alerts WHERE alert_id = ?", (alert_id,))
        return row is not None

    def take_alert(self, alert: AlertMessage, day: str) -> tuple[str, bool] | None:
        """Keep an alert; return (its root id, whether it continues an open one), or None when seen before.

        A raised alert continues the open alert of the same desk and kind raised the same local day (a hub
        restart forgets which alerts are open and raises them again). A cleared alert closes the open one.
        """
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM notify_alerts WHERE alert_id = ?", (alert.id,)).fetchone():
                return None
            open_row = conn.execute(
                "SELECT root_id, day FROM notify_alerts WHERE site = ? AND desk = ? AND kind = ? AND state = 'raised' "
                "AND cleared_at IS NULL ORDER BY ts DESC LIMIT 1",
                (alert.site, alert.desk, alert.alert.value),
            ).fetchone()
            root, continues = alert.id, False
            at = utc_text(alert.ts)
            if alert.state is AlertState.RAISED:
                if open_row is not None and open_row[1] == day:
                    root, continues = open_row[0], True
                elif open_row is not None:  # open since an earlier day: the hub never saw it end
                    conn.execute("UPDATE notify_alerts SET cleared_at = ? WHERE root_id = ?", (at, open_row[0]))
            elif open_row is not None:
                root = open_row[0]
                conn.execute("UPDATE notify_alerts SET cleared_at = ? WHERE root_id = ?", (at, root))
            conn.execute(
                "INSERT INTO notify_alerts (alert_id, root_id, site, desk, kind, state, ts, day, payload, cleared_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert.id,
                    root,
                    alert.site,
                    alert.desk,
                    alert.alert.value,
                    alert.state.value,
                    at,
                    day,
                    alert.model_dump_json(exclude_none=True),
                    at if alert.state is AlertState.CLEARED else None,
                ),
            )
        return root, continues

    def alerts_seen(self) -> int:
        """How many alerts (raised or cleared) the deliveries took in."""
        row = self._one("SELECT COUNT(*) FROM notify_alerts")
        return int(row[0]) if row else 0

    def root_of(self, alert_id: str) -> str | None:
        """The root alert an alert continues (itself for a new one); None when unknown."""
        row = self._one("SELECT root_id FROM notify_alerts WHERE alert_id = ?", (alert_id,))
        return None if row is None else str(row[0])

    # -- deliveries ---------------------------------------------------------------------------------------

    def add_delivery(
        self, alert_id: str, recipient: str, channel: str, stage: str, now: datetime, due_at: datetime
    ) -> bool:
        """Queue a delivery; False when this alert already went (or goes) to this recipient and channel."""
        return (
            self._write(
                "INSERT OR IGNORE INTO notify_outbox (alert_id, recipient, channel, stage, created_at, due_at, held) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (alert_id, recipient, channel, stage, utc_text(now), utc_text(due_at), int(due_at > now)),
            )
            == 1
        )

    def due_deliveries(self, channel: str, now: datetime, limit: int = 50) -> list[Delivery]:
        """Pending deliveries on a channel whose time has come, oldest due first."""
        rows = self._execute(
            "SELECT o.seq, o.alert_id, o.recipient, o.channel, o.stage, o.attempts, a.payload "
            "FROM notify_outbox o JOIN notify_alerts a ON a.alert_id = o.alert_id "
            "WHERE o.status = 'pending' AND o.channel = ? AND o.due_at <= ? ORDER BY o.due_at, o.seq LIMIT ?",
            (channel, utc_text(now), limit),
        )
        return [Delivery(*row) for row in rows]

    def next_due(self, channel: str) -> datetime | None:
        """When the next pending delivery on a channel is due."""
        row = self._one("SELECT MIN(due_at) FROM notify_outbox WHERE status = 'pending' AND channel = ?", (channel,))
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    def record_attempt(
        self, seq: int, now: datetime, ok: bool, detail: str, duration_ms: float, retry_at: datetime | None
    ) -> None:
        """Log an attempt; mark the delivery sent, due again at ``retry_at``, or failed for good."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO notify_attempts (outbox_seq, at, ok, duration_ms, detail) VALUES (?, ?, ?, ?, ?)",
                (seq, utc_text(now), int(ok), duration_ms, detail[:500]),
            )
            if ok:
                conn.execute(
                    "UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL "
                    "WHERE seq = ?",
                    (utc_text(now), seq),
                )
            elif retry_at is not None:
                conn.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE seq = ?",
                    (detail[:500], utc_text(retry_at), seq),
                )
            else:
                conn.execute(
                    "UPDATE notify_outbox SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE seq = ?",
                    (detail[:500], seq),
                )

    def counts(self) -> dict[str, int]:
        """Deliveries by status (pending, sent, failed)."""
        rows = self._execute("SELECT status, COUNT(*) FROM notify_outbox GROUP BY status")
        return {"pending": 0, "sent": 0, "failed": 0, **{str(status): int(n) for status, n in rows}}

    def deliveries(
        self, site: str | None = None, alert_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The delivery log, newest first, each delivery with its attempts."""
        clauses, args = [], []
        if site is not None:
            clauses.append("a.site = ?")
            args.append(site)
        if alert_id is not None:  # the alert and any re-raising of it after a restart
            clauses.append("a.root_id = ?")
            args.append(self.root_of(alert_id) or alert_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._execute(
            "SELECT o.seq, o.alert_id, a.root_id, a.site, a.desk, a.kind, a.state, o.recipient, o.channel, o.stage, "
            "o.created_at, o.due_at, o.held, o.status, o.attempts, o.last_error, o.sent_at "
            f"FROM notify_outbox o JOIN notify_alerts a ON a.alert_id = o.alert_id {where} "
            "ORDER BY o.seq DESC LIMIT ?",
            (*args, max(1, min(limit, 1000))),
        )
        result = []
        for row in rows:
            item = dict(zip(DELIVERY_COLUMNS, row, strict=True))
            item["held"] = bool(item["held"])
            item["attempt_log"] = [
                {"at": at, "ok": bool(ok), "duration_ms": duration, "detail": detail}
                for at, ok, duration, detail in self._execute(
                    "SELECT at, ok, duration_ms, detail FROM notify_attempts WHERE outbox_seq = ? ORDER BY seq",
                    (item["seq"],),
                )
            ]
            result.append(item)
        return result

    # -- escalations and acknowledgements ---------------------------------------------------------------------

    def add_escalation(self, root_id: str, from_recipient: str, to_recipient: str, due_at: datetime) -> None:
        """Schedule the second person's turn (the earliest due time wins when several lead to one person)."""
        self._write(
            "INSERT INTO notify_escalations (root_id, to_recipient, from_recipient, due_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (root_id, to_recipient) DO UPDATE SET due_at = MIN(due_at, excluded.due_at)",
            (root_id, to_recipient, from_recipient, utc_text(due_at)),
        )

    def due_escalations(self, now: datetime) -> list[DueEscalation]:
        """Escalations waiting whose time has come, with whether the alert was acknowledged or ended."""
        rows = self._execute(
            "SELECT e.root_id, e.to_recipient, e.from_recipient, a.payload, k.root_id IS NOT NULL, "
            "a.cleared_at IS NOT NULL "
            "FROM notify_escalations e JOIN notify_alerts a ON a.alert_id = e.root_id "
            "LEFT JOIN notify_acks k ON k.root_id = e.root_id "
            "WHERE e.status = 'waiting' AND e.due_at <= ? ORDER BY e.due_at",
            (utc_text(now),),
        )
        return [DueEscalation(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows]

    def next_escalation(self) -> datetime | None:
        """When the next waiting escalation is due."""
        row = self._one("SELECT MIN(due_at) FROM notify_escalations WHERE status = 'waiting'")
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    def decide_escalation(self, root_id: str, to_recipient: str, status: str, now: datetime) -> None:
        """Close an escalation: ``sent``, ``acknowledged`` or ``cleared``."""
        self._write(
            "UPDATE notify_escalations SET status = ?, decided_at = ? WHERE root_id = ? AND to_recipient = ?",
            (status, utc_text(now), root_id, to_recipient),
        )

    def escalations(self, root_id: str) -> list[dict[str, Any]]:
        """The escalations of an alert, for the API."""
        rows = self._execute(
            "SELECT to_recipient, from_recipient, due_at, status, decided_at FROM notify_escalations "
            "WHERE root_id = ? ORDER BY due_at",
            (root_id,),
        )
        return [dict(zip(("to", "from", "due_at", "status", "decided_at"), row, strict=True)) for row in rows]

    def acknowledge(self, alert_id: str, by: str, now: datetime) -> Acknowledgement | None:
        """Record who acknowledged an alert (the first one stands); None when the alert is unknown."""
        root = self.root_of(alert_id)
        if root is None:
            return None
        self._write(
            "INSERT OR IGNORE INTO notify_acks (root_id, alert_id, by, at) VALUES (?, ?, ?, ?)",
            (root, alert_id, by, utc_text(now)),
        )
        return self.acknowledgement(alert_id)

    def acknowledgement(self, alert_id: str) -> Acknowledgement | None:
        """Who acknowledged this alert (or the alert it continues), if anyone."""
        row = self._one(
            "SELECT k.root_id, k.alert_id, k.by, k.at FROM notify_alerts a JOIN notify_acks k ON k.root_id = a.root_id "
            "WHERE a.alert_id = ?",
            (alert_id,),
        )
        return None if row is None else Acknowledgement(row[0], row[1], row[2], datetime.fromisoformat(row[3]))
