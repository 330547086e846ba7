"""SQLite implementation of the hub's store: WAL, one writer thread, a connection per reading thread."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.connection import RecordConnection, connect
from hub.figures import RatingFact
from hub.loss import StreamLoss
from hub.migrations import HEAD, current_revision, upgrade
from hub.rollups import ROLLUP_SCHEMA, fill_new_rollups
from hub.store import (
    LOCK_SLOTS,
    LineFact,
    MessageKey,
    NodeHealth,
    QueueSample,
    RejectedMessage,
    message_key,
    record_time,
)
from hub.visits import TicketEventRecord, Transaction, TransactionEnd, Visit, VisitStatus
from protocol.messages import (
    AlertMessage,
    AlertType,
    EmotionMessage,
    Envelope,
    FeedbackMessage,
    HeartbeatMessage,
    LineMessage,
    QueueMessage,
    RatingMessage,
    TicketEvent,
)

# The tables every hub worker of a record shares, written beside the ingest through a connection of their own
# (hub.connection.RecordConnection): the audit log (hub/audit.py), the dashboard sessions (hub/sessions.py), alert
# delivery (hub/notify/outbox.py: a delivery is claimed by one worker for a lease) and the evaluation entries
# (hub/reports/evaluation_entries.py). ``"user"`` is quoted: a reserved word in PostgreSQL.
SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, "user" TEXT NOT NULL, issued_at REAL NOT NULL, expires_at REAL NOT NULL,
    revoked_at REAL);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions ("user");
CREATE TABLE IF NOT EXISTS notify_alerts (
    alert_id TEXT PRIMARY KEY, root_id TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL, kind TEXT NOT NULL,
    state TEXT NOT NULL, ts TEXT NOT NULL, day TEXT NOT NULL, payload TEXT NOT NULL, cleared_at TEXT);
CREATE INDEX IF NOT EXISTS notify_alerts_open ON notify_alerts (site, desk, kind, cleared_at);
CREATE INDEX IF NOT EXISTS notify_alerts_by_root ON notify_alerts (root_id);
CREATE TABLE IF NOT EXISTS notify_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, recipient TEXT NOT NULL,
    channel TEXT NOT NULL, stage TEXT NOT NULL, created_at TEXT NOT NULL, due_at TEXT NOT NULL,
    held INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, sent_at TEXT, claimed_by TEXT, claimed_until TEXT, UNIQUE (alert_id, recipient, channel, stage));
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
CREATE TABLE IF NOT EXISTS evaluation_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, staff TEXT NOT NULL,
    kind TEXT NOT NULL, month TEXT NOT NULL, day TEXT, value REAL NOT NULL, site TEXT, note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evaluation_entries_by_staff ON evaluation_entries (staff, month);
CREATE TABLE IF NOT EXISTS evaluation_months (
    staff TEXT NOT NULL, month TEXT NOT NULL, profile TEXT NOT NULL, computed_at TEXT NOT NULL,
    result TEXT NOT NULL, PRIMARY KEY (staff, month));
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL, desk TEXT NOT NULL,
    ts TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (site, desk, kind, id));
CREATE TABLE IF NOT EXISTS units (
    site TEXT NOT NULL, desk TEXT NOT NULL, PRIMARY KEY (site, desk));
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at TEXT NOT NULL, topic TEXT NOT NULL,
    payload BLOB NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ticket_events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, day TEXT NOT NULL, ticket TEXT NOT NULL, desk TEXT NOT NULL,
    event TEXT NOT NULL, ts TEXT NOT NULL, staff TEXT, service TEXT, priority INTEGER NOT NULL,
    to_desk TEXT);
CREATE INDEX IF NOT EXISTS ticket_events_by_visit ON ticket_events (site, day, ticket);
CREATE TABLE IF NOT EXISTS visits (
    site TEXT NOT NULL, day TEXT NOT NULL, ticket TEXT NOT NULL, status TEXT NOT NULL, issued_at TEXT,
    issued_desk TEXT, service TEXT, priority INTEGER NOT NULL, wait_s REAL, waiting_since TEXT,
    waiting_desk TEXT, PRIMARY KEY (site, day, ticket));
CREATE INDEX IF NOT EXISTS visits_by_day ON visits (day);
CREATE TABLE IF NOT EXISTS transactions (
    site TEXT NOT NULL, day TEXT NOT NULL, ticket TEXT NOT NULL, seq INTEGER NOT NULL, desk TEXT NOT NULL,
    staff TEXT, service TEXT, wait_started_at TEXT, called_at TEXT NOT NULL, ended_at TEXT, end_reason TEXT,
    wait_s REAL, service_s REAL, PRIMARY KEY (site, day, ticket, seq));
CREATE INDEX IF NOT EXISTS transactions_by_staff ON transactions (staff, day);
CREATE TABLE IF NOT EXISTS ratings (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, ts TEXT NOT NULL,
    score INTEGER NOT NULL, scale INTEGER, ticket TEXT, staff TEXT, channel TEXT NOT NULL,
    flags TEXT, counted INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS ratings_by_day ON ratings (site, day);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, ts TEXT NOT NULL,
    sentiment TEXT NOT NULL, confidence REAL NOT NULL, ticket TEXT, staff TEXT, text TEXT);
CREATE TABLE IF NOT EXISTS emotions (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, ts TEXT NOT NULL,
    ticket TEXT, frames INTEGER NOT NULL, valence REAL NOT NULL, probabilities TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS queue_samples (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, ts TEXT NOT NULL, length INTEGER NOT NULL,
    est_wait_s REAL, head_wait_s REAL, source TEXT NOT NULL, present INTEGER);
CREATE INDEX IF NOT EXISTS queue_samples_by_desk ON queue_samples (site, desk, ts);
CREATE TABLE IF NOT EXISTS nodes (
    site TEXT NOT NULL, desk TEXT NOT NULL, last_seen TEXT NOT NULL, online INTEGER, heartbeat TEXT,
    heartbeat_at TEXT, PRIMARY KEY (site, desk));
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, ts TEXT NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (ts);
CREATE TABLE IF NOT EXISTS line_events (
    id TEXT PRIMARY KEY, site TEXT NOT NULL, desk TEXT NOT NULL, day TEXT NOT NULL, ts TEXT NOT NULL,
    event TEXT NOT NULL, duration_s REAL NOT NULL);
CREATE INDEX IF NOT EXISTS line_events_by_day ON line_events (site, day);
CREATE TABLE IF NOT EXISTS seq_streams (
    site TEXT NOT NULL, desk TEXT NOT NULL, stream TEXT NOT NULL, highest INTEGER NOT NULL,
    missing INTEGER NOT NULL, written_off INTEGER NOT NULL, gaps TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (site, desk, stream));
CREATE TABLE IF NOT EXISTS alert_states (
    site TEXT NOT NULL, desk TEXT NOT NULL, alert TEXT NOT NULL, state TEXT NOT NULL, alert_id TEXT NOT NULL,
    ts TEXT NOT NULL, PRIMARY KEY (site, desk, alert));
CREATE TABLE IF NOT EXISTS hub_workers (
    client_id TEXT PRIMARY KEY, shared_group TEXT NOT NULL, started_at TEXT NOT NULL, drained_to REAL,
    probed_at REAL);
"""
SCHEMA += SHARED_SCHEMA
SCHEMA += ROLLUP_SCHEMA  # the daily roll-ups and the indexes they read by (hub/rollups.py)

# SQLite's column types as PostgreSQL spells them (SQLite's integers are 64-bit; REAL is a double).
POSTGRESQL_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
)

INSERT_RATING = (
    "INSERT OR IGNORE INTO ratings "
    "(id, site, desk, day, ts, score, scale, ticket, staff, channel, flags, counted, hub_flags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def message_row(message: Envelope, payload: bytes, received_at: datetime) -> tuple[Any, ...]:
    """A message's row of the messages table (the columns of :data:`INSERT_MESSAGE`)."""
    return (
        message.id,
        message.kind.value,
        message.site,
        message.desk,
        record_time(message.ts),
        record_time(received_at),
        payload.decode("utf-8", errors="replace"),
    )


INSERT_MESSAGE = (
    "INSERT OR IGNORE INTO messages (id, kind, site, desk, ts, received_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
VisitKey = tuple[str, str, str]
TICKET_EVENT_COLUMNS = "id, ts, desk, event, staff, service, priority, to_desk"
STREAM_LOSS_COLUMNS = "site, desk, stream, highest, missing, written_off, gaps"

# Alerts raised and not cleared (:meth:`SqliteStore.raised_alerts`; PostgreSQL's joins its devices as arrays).
RAISED_ALERTS = "SELECT a.payload, a.ts FROM alert_states s JOIN alerts a ON a.id = s.alert_id"
INSERT_ALERT = "INSERT OR IGNORE INTO alerts (id, site, desk, ts, payload) VALUES (?, ?, ?, ?, ?)"

# A session's progress (hub/progress.py): each time only moves forward (a probe redelivered late, or two workers
# around a hand-over, never take it back); a row not registered yet (hub/adoption.py) is made with it.
NOTE_SESSION_PROGRESS = (
    "INSERT INTO hub_workers (client_id, shared_group, started_at, drained_to, probed_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (client_id) DO UPDATE SET "
    "drained_to = CASE WHEN excluded.drained_to > COALESCE(hub_workers.drained_to, 0) THEN excluded.drained_to "
    "ELSE hub_workers.drained_to END, "
    "probed_at = CASE WHEN excluded.probed_at > COALESCE(hub_workers.probed_at, 0) THEN excluded.probed_at "
    "ELSE hub_workers.probed_at END"
)


INSERT_TICKET_EVENT = (
    "INSERT OR IGNORE INTO ticket_events "
    "(id, site, day, ticket, desk, event, ts, staff, service, priority, to_desk) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# A node's heartbeat is replaced only by one at least as new (NULL: none yet, or kept before its time was).
_NEWER_BEAT = "(nodes.heartbeat_at IS NULL OR excluded.heartbeat_at >= nodes.heartbeat_at)"
RECORD_NODE = (
    "INSERT INTO nodes (site, desk, last_seen, online, heartbeat, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (site, desk) DO UPDATE SET last_seen = MAX(nodes.last_seen, excluded.last_seen), "
    "online = COALESCE(excluded.online, nodes.online), "
    f"heartbeat = CASE WHEN {_NEWER_BEAT} THEN COALESCE(excluded.heartbeat, nodes.heartbeat) ELSE nodes.heartbeat END, "
    f"heartbeat_at = CASE WHEN {_NEWER_BEAT} THEN COALESCE(excluded.heartbeat_at, nodes.heartbeat_at) "
    "ELSE nodes.heartbeat_at END"
)


# Upserts of rows that several workers' batches write (a node's row: the heartbeats of one desk reach different
# workers) are sent only by the commit's flush, after the batch has taken its devices' locks (hub/processor.py,
# "tail"): sent earlier, a row locked by one batch while it waits for another's locks would deadlock the two.
HELD_TO_COMMIT = frozenset({RECORD_NODE})


def _take_pending(pending: dict[str, list[tuple[Any, ...]]], final: bool) -> dict[str, list[tuple[Any, ...]]]:
    """The buffered writes a flush sends now, taken out of ``pending``: all of them at the commit (``final``),
    else all but the upserts of rows that other workers' transactions write too (:data:`HELD_TO_COMMIT`)."""
    held = {} if final else {sql: pending.pop(sql) for sql in HELD_TO_COMMIT if sql in pending}
    taken = dict(pending)
    pending.clear()
    pending.update(held)
    return taken


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


class SqliteStore:
    """The record in one SQLite file (WAL journal, synchronous=NORMAL: safe against process crashes)."""

    dialect = "sqlite"  # what ``query`` runs on, for the few aggregates spelled differently (hub/rollups.py)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()
        # Inserts of a transaction are buffered per statement and written with executemany at commit
        # (or before a read on the writing thread): far fewer round trips into SQLite per message.
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._units_filled = False
        fill_new_rollups(self)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def connect(self) -> RecordConnection:
        """A new connection to the record file, owned (and closed) by the caller."""
        return connect(self._path)

    def _migrate(self) -> None:
        # Versioned migrations (hub/migrations) bring an empty or older record to the head revision; tables
        # added to SCHEMA since the last revision are then created where absent (additions only: any other
        # change of the schema is a new revision).
        if current_revision(self._conn.execute) != HEAD:
            upgrade(f"sqlite:///{self._path}")
        self._conn.executescript(SCHEMA)

    @property
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything inside together; roll back on error."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._flush(final=True)
        except BaseException:
            self._pending.clear()
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write(self, sql: str, row: tuple[Any, ...]) -> None:
        self._pending.setdefault(sql, []).append(row)

    def _flush(self, only: str | None = None, final: bool = False) -> None:
        if only is not None:
            rows = self._pending.pop(only, None)
            if rows:
                self._conn.executemany(only, rows)
            return
        pending = _take_pending(self._pending, final)
        for sql, rows in pending.items():
            self._conn.executemany(sql, rows)

    def existing_messages(self, keys: list[MessageKey]) -> dict[MessageKey, str]:
        """The payloads of those of these (site, desk, kind, id) keys already in the record."""
        by_device: dict[tuple[str, str, str], list[str]] = {}
        for site, desk, kind, message_id in keys:
            by_device.setdefault((site, desk, kind), []).append(message_id)
        found: dict[MessageKey, str] = {}
        for (site, desk, kind), ids in by_device.items():
            for start in range(0, len(ids), 500):  # one primary-key range per device and kind
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for message_id, payload in self._conn.execute(
                    f"SELECT id, payload FROM messages WHERE site = ? AND desk = ? AND kind = ? AND id IN ({marks})",
                    (site, desk, kind, *chunk),
                ):
                    found[(site, desk, kind, message_id)] = payload
        return found

    # -- writes ------------------------------------------------------------------------------------------

    def claim_messages(self, messages: list[tuple[Envelope, bytes, datetime]]) -> dict[MessageKey, str]:
        """Keep those of these (message, payload, received_at), of distinct keys, that the record does not hold
        yet; return the stored payloads of the others (one SQLite writer: a read, then buffered inserts)."""
        stored = self.existing_messages([message_key(m) for m, _, _ in messages])
        for message, payload, received_at in messages:
            if message_key(message) not in stored:
                self.add_message(message, payload, received_at)
        return stored

    def add_message(self, message: Envelope, payload: bytes, received_at: datetime) -> None:
        """Keep an accepted message (a repeated id is ignored)."""
        self._write(INSERT_MESSAGE, message_row(message, payload, received_at))
        self._add_unit(message)

    def _add_unit(self, message: Envelope) -> None:
        if message.kind.value not in ("alert", "config"):
            # Every unit and desk ever heard from, kept apart so the dashboard never scans the messages.
            self._write("INSERT OR IGNORE INTO units (site, desk) VALUES (?, ?)", (message.site, message.desk))

    def add_rejected(self, topic: str, payload: bytes, reason: str, received_at: datetime) -> None:
        """Keep a rejected message with its reason."""
        self._write(
            "INSERT INTO rejected (received_at, topic, payload, reason) VALUES (?, ?, ?, ?)",
            (record_time(received_at), topic, payload, reason),
        )

    def add_ticket_event(self, site: str, day: str, ticket: str, event: TicketEventRecord) -> None:
        """Keep a ticket event under its visit key."""
        self._write(
            INSERT_TICKET_EVENT,
            (
                f"{site}/{event.desk}/{event.id}",
                site,
                day,
                ticket,
                event.desk,
                event.event.value,
                record_time(event.ts),
                event.staff,
                event.service,
                int(event.priority),
                event.to_desk,
            ),
        )

    def ticket_events(self, site: str, day: str, ticket: str) -> list[TicketEventRecord]:
        """All events of one visit."""
        self._flush(only=INSERT_TICKET_EVENT)
        rows = self._conn.execute(
            f"SELECT {TICKET_EVENT_COLUMNS} FROM ticket_events WHERE site = ? AND day = ? AND ticket = ?",
            (site, day, ticket),
        ).fetchall()
        return [ticket_event(row) for row in rows]

    def visits_events(self, visits: list[VisitKey]) -> dict[VisitKey, list[TicketEventRecord]]:
        """All events of each of these visits (site, day, ticket); on SQLite one indexed read per visit."""
        return {key: self.ticket_events(*key) for key in visits}

    def save_visit(self, site: str, day: str, visit: Visit) -> None:
        """Replace a visit and its transactions."""
        self._write(
            "INSERT OR REPLACE INTO visits (site, day, ticket, status, issued_at, issued_desk, service, "
            "priority, wait_s, waiting_since, waiting_desk) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                site,
                day,
                visit.ticket,
                visit.status.value,
                _opt_utc(visit.issued_at),
                visit.issued_desk,
                visit.service,
                int(visit.priority),
                visit.wait_s,
                _opt_utc(visit.waiting_since),
                visit.waiting_desk,
            ),
        )
        self._write("DELETE FROM transactions WHERE site = ? AND day = ? AND ticket = ?", (site, day, visit.ticket))
        for t in visit.transactions:
            self._write(
                "INSERT INTO transactions (site, day, ticket, seq, desk, staff, service, wait_started_at, "
                "called_at, ended_at, end_reason, wait_s, service_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site,
                    day,
                    visit.ticket,
                    t.seq,
                    t.desk,
                    t.staff,
                    t.service,
                    _opt_utc(t.wait_started_at),
                    record_time(t.called_at),
                    _opt_utc(t.ended_at),
                    t.end.value if t.end else None,
                    t.wait_s,
                    t.service_s,
                ),
            )

    def add_rating(
        self, message: RatingMessage, day: str, counted: bool | None = None, hub_flags: tuple[str, ...] = ()
    ) -> None:
        """Keep a rating; ``counted`` is the hub's verdict (the kiosk's flags alone when None)."""
        self._write(
            INSERT_RATING,
            (
                _device_id(message),
                message.site,
                message.desk,
                day,
                record_time(message.ts),
                message.score,
                message.scale,
                message.ticket,
                message.staff,
                message.channel.value,
                ",".join(flag.value for flag in message.flags) if message.flags else None,
                int(message.counted if counted is None else counted),
                ",".join(hub_flags) or None,
            ),
        )

    def rating_exists(
        self,
        site: str,
        day: str,
        desk: str,
        *,
        between: tuple[datetime, datetime] | None = None,
        ticket: str | None = None,
        without_ticket: bool = False,
        channel: str | None = None,
        counted_only: bool = False,
    ) -> bool:
        """Whether the record holds a rating of this desk and day matching every condition given."""
        self._flush(only=INSERT_RATING)
        sql = "SELECT 1 FROM ratings WHERE site = ? AND day = ? AND desk = ?"
        args: list[Any] = [site, day, desk]
        if between is not None:
            sql += " AND ts > ? AND ts < ?"
            args += [record_time(between[0]), record_time(between[1])]
        if ticket is not None:
            sql += " AND ticket = ?"
            args.append(ticket)
        if without_ticket:
            sql += " AND ticket IS NULL"
        if channel is not None:
            sql += " AND channel = ?"
            args.append(channel)
        if counted_only:
            sql += " AND counted = 1"
        return self._conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def ticket_served_at(self, site: str, day: str, ticket: str, desk: str) -> bool:
        """Whether the ticket was called (or served) at this desk on this day."""
        self._flush(only=INSERT_TICKET_EVENT)
        row = self._conn.execute(
            "SELECT 1 FROM ticket_events WHERE site = ? AND day = ? AND ticket = ? AND desk = ? "
            "AND event IN ('called', 'recalled', 'started', 'finished') LIMIT 1",
            (site, day, ticket, desk),
        ).fetchone()
        return row is not None

    def add_feedback(self, message: FeedbackMessage, day: str) -> None:
        """Keep a comment's sentiment, and its text only when the citizen consented."""
        self._write(
            "INSERT OR IGNORE INTO feedback (id, site, desk, day, ts, sentiment, confidence, ticket, staff, text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _device_id(message),
                message.site,
                message.desk,
                day,
                record_time(message.ts),
                message.sentiment.value,
                message.confidence,
                message.ticket,
                message.staff,
                message.text if message.consent else None,
            ),
        )

    def add_emotion(self, message: EmotionMessage, day: str) -> None:
        """Keep the aggregated emotion of one service."""
        self._write(
            "INSERT OR IGNORE INTO emotions (id, site, desk, day, ts, ticket, frames, valence, probabilities) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _device_id(message),
                message.site,
                message.desk,
                day,
                record_time(message.ts),
                message.ticket,
                message.frames,
                message.valence,
                json.dumps(message.probabilities),
            ),
        )

    def add_queue_sample(self, message: QueueMessage) -> None:
        """Keep a queue measurement."""
        row = (
            message.site,
            message.desk,
            record_time(message.ts),
            message.length,
            message.est_wait_s,
            message.head_wait_s,
            message.source.value,
            None if message.present is None else int(message.present),
        )
        self._write(
            "INSERT OR IGNORE INTO queue_samples (id, site, desk, ts, length, est_wait_s, head_wait_s, source, "
            "present) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_device_id(message), *row),
        )

    def record_node(
        self, site: str, desk: str, seen_at: datetime, online: bool | None, heartbeat: HeartbeatMessage | None
    ) -> None:
        """Update an edge node's health (its last heartbeat and online state). The stored heartbeat is the newest
        by its own time (``heartbeat_at``, fixed-width UTC text): a late, older one does not replace it."""
        beat = heartbeat.model_dump_json(exclude_none=True) if heartbeat else None
        beat_at = heartbeat.ts.astimezone(UTC).isoformat(timespec="microseconds") if heartbeat else None
        self._write(
            RECORD_NODE, (site, desk, record_time(seen_at), None if online is None else int(online), beat, beat_at)
        )

    def add_alert(self, alert: AlertMessage) -> None:
        """Keep an alert raised or cleared by the hub."""
        self._write(
            INSERT_ALERT,
            (alert.id, alert.site, alert.desk, record_time(alert.ts), alert.model_dump_json(exclude_none=True)),
        )

    def claim_alert(self, alert: AlertMessage) -> bool:
        """Record that an alert's state changes (raised or cleared), unless it is in that state already;
        True when this call changed it. Several workers evaluating the same desks raise each alert once: the
        first to claim the change announces it."""
        cursor = self._conn.execute(
            "INSERT INTO alert_states (site, desk, alert, state, alert_id, ts) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (site, desk, alert) DO UPDATE SET state = excluded.state, alert_id = excluded.alert_id, "
            "ts = excluded.ts WHERE alert_states.state <> excluded.state",
            (alert.site, alert.desk, alert.alert.value, alert.state.value, alert.id, record_time(alert.ts)),
        )
        return bool(cursor.rowcount == 1)

    def claim_alerts(self, alerts: list[AlertMessage]) -> list[AlertMessage]:
        """:meth:`claim_alert` of each of these alerts; those whose change this call claimed, in their order."""
        return [alert for alert in alerts if self.claim_alert(alert)]

    def set_alert_state(self, alert: AlertMessage) -> None:
        """Record an alert's state, whatever it was (under the advisory lock of its device: a raised alert's
        count may change while it stays raised)."""
        self._conn.execute(
            "INSERT INTO alert_states (site, desk, alert, state, alert_id, ts) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (site, desk, alert) DO UPDATE SET state = excluded.state, alert_id = excluded.alert_id, "
            "ts = excluded.ts",
            (alert.site, alert.desk, alert.alert.value, alert.state.value, alert.id, record_time(alert.ts)),
        )

    def raised_alerts(
        self, alert: AlertType | None = None, devices: Collection[tuple[str, str]] | None = None
    ) -> list[AlertMessage]:
        """The alerts raised (by :meth:`claim_alert`) and not cleared yet, oldest first; or those of one type;
        of these (site, desk) devices only, when given (a batch asks of its own: a country may have thousands
        raised)."""
        of_type, args = ("", ()) if alert is None else (" AND s.alert = ?", (alert.value,))
        sql = RAISED_ALERTS
        if devices is None:
            rows = list(self._conn.execute(f"{sql} WHERE s.state = 'raised'{of_type} ORDER BY a.ts", args))
        else:
            keys, rows = list(dict.fromkeys(devices)), []
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                rows += self._conn.execute(
                    f"WITH d (site, desk) AS (VALUES {', '.join(['(?, ?)'] * len(chunk))}) {sql} "
                    f"JOIN d ON d.site = s.site AND d.desk = s.desk WHERE s.state = 'raised'{of_type} ORDER BY a.ts",
                    (*(v for key in chunk for v in key), *args),
                )
            if len(keys) > 1000:
                rows.sort(key=lambda row: row[1])
        return [AlertMessage.model_validate_json(row[0]) for row in rows]

    def lock_keys(self, keys: list[int], slots: int = LOCK_SLOTS) -> None:
        """Hold these keys until the transaction ends (one SQLite writer: its transaction holds them all)."""

    def announce(self, changes: list[Any]) -> None:
        """Announce the live board's changes to every worker: one worker on SQLite has no one to tell."""

    # -- reads -------------------------------------------------------------------------------------------

    def visits(self, site: str, day: str) -> list[Visit]:
        """The visits of a unit on a local day."""
        return self._visits_where("site = ? AND day = ?", (site, day)).get(site, [])

    def visits_on(self, day: str) -> dict[str, list[Visit]]:
        """Every unit's visits on a local day."""
        return self._visits_where("day = ?", (day,))

    def _visits_where(self, where: str, args: tuple[Any, ...]) -> dict[str, list[Visit]]:
        conn = self._conn
        transactions: dict[tuple[str, str], list[Transaction]] = {}
        for row in conn.execute(
            "SELECT site, ticket, seq, desk, staff, service, wait_started_at, called_at, ended_at, end_reason "
            f"FROM transactions WHERE {where} ORDER BY site, ticket, seq",
            args,
        ):
            transactions.setdefault((row[0], row[1]), []).append(
                Transaction(
                    seq=row[2],
                    desk=row[3],
                    staff=row[4],
                    service=row[5],
                    wait_started_at=_parse(row[6]),
                    called_at=datetime.fromisoformat(row[7]),
                    ended_at=_parse(row[8]),
                    end=TransactionEnd(row[9]) if row[9] else None,
                )
            )
        visits: dict[str, list[Visit]] = {}
        for row in conn.execute(
            "SELECT site, ticket, status, issued_at, issued_desk, service, priority, waiting_since, waiting_desk "
            f"FROM visits WHERE {where} ORDER BY site, issued_at",
            args,
        ):
            visits.setdefault(row[0], []).append(
                Visit(
                    ticket=row[1],
                    status=VisitStatus(row[2]),
                    issued_at=_parse(row[3]),
                    issued_desk=row[4],
                    service=row[5],
                    priority=bool(row[6]),
                    transactions=tuple(transactions.get((row[0], row[1]), ())),
                    waiting_since=_parse(row[7]),
                    waiting_desk=row[8],
                )
            )
        return visits

    def ratings(self, site: str, day: str, desk: str | None = None) -> list[RatingFact]:
        """The ratings of a unit (or one desk) on a local day, counted or not."""
        sql = "SELECT score, scale, counted FROM ratings WHERE site = ? AND day = ?"
        args: tuple[Any, ...] = (site, day)
        if desk is not None:
            sql += " AND desk = ?"
            args = (*args, desk)
        return [RatingFact(score=row[0], scale=row[1], counted=bool(row[2])) for row in self._conn.execute(sql, args)]

    def latest_queue_samples(self, until: datetime | None = None) -> list[QueueSample]:
        """The latest queue sample of every desk (dated at most ``until`` when given)."""
        where, args = ("WHERE ts <= ? ", (record_time(until),)) if until is not None else ("", ())
        return [
            queue_sample(row)
            for row in self._conn.execute(
                "SELECT site, desk, MAX(ts), length, est_wait_s, head_wait_s, source, present FROM queue_samples "
                f"{where}GROUP BY site, desk",
                args,
            )
        ]

    def nodes(self) -> list[NodeHealth]:
        """Health of every edge node heard from."""
        return [
            NodeHealth(
                site=row[0],
                desk=row[1],
                last_seen=datetime.fromisoformat(row[2]),
                online=None if row[3] is None else bool(row[3]),
                heartbeat=json.loads(row[4]) if row[4] else None,
            )
            for row in self._conn.execute("SELECT site, desk, last_seen, online, heartbeat FROM nodes")
        ]

    def alerts(self, site: str | None = None, limit: int = 200) -> list[AlertMessage]:
        """Recent alerts, newest first."""
        sql = "SELECT payload FROM alerts"
        args: tuple[Any, ...] = ()
        if site is not None:
            sql += " WHERE site = ?"
            args = (site,)
        sql += " ORDER BY ts DESC LIMIT ?"
        return [AlertMessage.model_validate_json(row[0]) for row in self._conn.execute(sql, (*args, limit))]

    def rejected(self, limit: int = 100, preview_bytes: int = 2048) -> list[RejectedMessage]:
        """Recently rejected messages, newest first; each payload cut to ``preview_bytes`` (old records too)."""
        return [
            RejectedMessage(
                seq=row[0],
                received_at=datetime.fromisoformat(row[1]),
                topic=row[2],
                payload=bytes(row[3]) if isinstance(row[3], bytes) else str(row[3]).encode(),
                reason=row[4],
            )
            for row in self._conn.execute(
                "SELECT seq, received_at, topic, substr(payload, 1, ?), reason FROM rejected ORDER BY seq DESC LIMIT ?",
                (preview_bytes, limit),
            )
        ]

    def clamp_node_times(self, horizon: datetime, now: datetime) -> int:
        """Set the last-seen time of nodes "seen" after ``horizon`` (a clock gone wrong) to ``now``; how many."""
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE nodes SET last_seen = ? WHERE last_seen > ?", (record_time(now), record_time(horizon))
            )
        return cursor.rowcount

    def prune_rejected(self, keep: int, before: datetime) -> int:
        """Delete rejected messages received before ``before`` and all but the newest ``keep``; return how many."""
        with self.transaction():
            cursor = self._conn.execute(
                "DELETE FROM rejected WHERE received_at < ? OR seq <= "
                "(SELECT seq FROM rejected ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (record_time(before), keep),
            )
        return cursor.rowcount

    def seen_units(self) -> dict[str, set[str]]:
        """Every unit and desk that sent an accepted message (alerts of the hub itself excluded)."""
        units: dict[str, set[str]] = {}
        if not self._units_filled:
            self._fill_units()
        for site, desk in self._conn.execute("SELECT site, desk FROM units"):
            units.setdefault(site, set()).add(desk)
        return units

    def _fill_units(self) -> None:
        # A record written before the units table existed: fill it once from the messages.
        self._conn.execute(
            "INSERT OR IGNORE INTO units (site, desk) SELECT DISTINCT site, desk FROM messages "
            "WHERE kind NOT IN ('alert', 'config') AND NOT EXISTS (SELECT 1 FROM units)"
        )
        self._units_filled = True

    def message_counts(self) -> dict[str, int]:
        """Accepted messages by kind, plus ``rejected``."""
        counts = dict(self._conn.execute("SELECT kind, COUNT(*) FROM messages GROUP BY kind").fetchall())
        counts["rejected"] = self._conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
        return counts

    def add_line_event(self, message: LineMessage, day: str) -> None:
        """Keep a walk-out or a wait before the ticket seen by a desk's camera."""
        self._write(
            "INSERT OR IGNORE INTO line_events (id, site, desk, day, ts, event, duration_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                _device_id(message),
                message.site,
                message.desk,
                day,
                record_time(message.ts),
                message.event.value,
                message.duration_s,
            ),
        )

    def line_events(self, site: str, first_day: str, last_day: str | None = None) -> list[LineFact]:
        """Walk-outs and pre-ticket waits of a unit from ``first_day`` to ``last_day`` (local days, inclusive)."""
        rows = self._conn.execute(
            "SELECT desk, day, ts, event, duration_s FROM line_events WHERE site = ? AND day BETWEEN ? AND ? "
            "ORDER BY ts",
            (site, first_day, last_day or first_day),
        )
        return [LineFact(row[0], row[1], datetime.fromisoformat(row[2]), row[3], row[4]) for row in rows]

    def close(self) -> None:
        """Close every connection this store opened (idempotent)."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- other modules' own tables (hub/rollups.py) -------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = (), *, flush: bool = False) -> list[Any]:
        """Rows of a read written in SQLite's dialect (translated on PostgreSQL); with ``flush``, on the
        writing thread, after the writes buffered in the current unit of work."""
        if flush:
            self._flush()
        return list(self._conn.execute(sql, tuple(args)).fetchall())

    def write(self, sql: str, row: tuple[Any, ...]) -> None:
        """Buffer a write of the current unit of work (run at commit, statements in order of first use)."""
        self._write(sql, row)

    # -- numbering and loss (hub/loss.py) -----------------------------------------------------------------

    def stream_losses(
        self, devices: list[tuple[str, str]] | None = None, *, open_only: bool = False
    ) -> list[StreamLoss]:
        """The numbered streams of these (site, desk) devices, or of every device (only those with messages
        missing: ``open_only``)."""
        sql = f"SELECT {STREAM_LOSS_COLUMNS} FROM seq_streams"
        rows: list[Any] = []
        if devices is None:
            where = " WHERE missing > 0" if open_only else ""
            rows = list(self._conn.execute(sql + where + " ORDER BY site, desk, stream"))
        else:
            for site, desk in dict.fromkeys(devices):
                rows += self._conn.execute(sql + " WHERE site = ? AND desk = ?", (site, desk))
        return [stream_loss(row) for row in rows]

    def note_session_progress(
        self, client_id: str, group: str, *, drained_to: float | None = None, probed_at: float | None = None
    ) -> None:
        """Keep, in a unit of work of its own, how far an MQTT session is drained and when it was last probed
        (POSIX seconds; hub/progress.py)."""
        with self.transaction():
            started = datetime.now(UTC).isoformat()
            self._write(NOTE_SESSION_PROGRESS, (client_id, group, started, drained_to, probed_at))

    def session_progress(self, group: str) -> list[tuple[float | None, float | None]]:
        """(drained_to, probed_at) of every session of a worker group (a few rows)."""
        rows = self._conn.execute("SELECT drained_to, probed_at FROM hub_workers WHERE shared_group = ?", (group,))
        return [(row[0], row[1]) for row in rows]

    def save_stream_loss(self, loss: StreamLoss, updated_at: datetime) -> None:
        """Keep what the hub knows of a stream now (inside the batch's transaction)."""
        self._write(
            "INSERT INTO seq_streams (site, desk, stream, highest, missing, written_off, gaps, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site, desk, stream) DO UPDATE SET "
            "highest = excluded.highest, missing = excluded.missing, written_off = excluded.written_off, "
            "gaps = excluded.gaps, updated_at = excluded.updated_at",
            (
                loss.site,
                loss.desk,
                loss.stream,
                loss.highest,
                loss.missing,
                loss.written_off,
                json.dumps(
                    [[first, last, since] for (first, last), since in zip(loss.gaps, loss.opened, strict=True)],
                    separators=(",", ":"),
                )
                if loss.gaps
                else "[]",  # most streams have no gap: a country's batch saves one per device
                record_time(updated_at),
            ),
        )


def schema_statements(schema: str, dialect: str) -> list[str]:
    """The statements of a schema written for SQLite, in the dialect of ``dialect`` (sqlite or postgresql)."""
    if dialect == "postgresql":
        for pattern, replacement in POSTGRESQL_TYPES:
            schema = pattern.sub(replacement, schema)
    return [statement.strip() for statement in schema.split(";") if statement.strip()]


def ticket_event(row: Any) -> TicketEventRecord:
    """A ticket event from its row (the columns of ``TICKET_EVENT_COLUMNS``)."""
    return TicketEventRecord(
        id=row[0],
        ts=datetime.fromisoformat(row[1]),
        desk=row[2],
        event=TicketEvent(row[3]),
        staff=row[4],
        service=row[5],
        priority=bool(row[6]),
        to_desk=row[7],
    )


def stream_loss(row: Any) -> StreamLoss:
    """A device's numbered stream from its row (the columns of ``STREAM_LOSS_COLUMNS``). Each gap is kept as
    [first, last, opened]; a gap kept before the grace existed, as [first, last], counts as opened long ago."""
    gaps = json.loads(row[6]) if row[6] != "[]" else []
    return StreamLoss(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        [(gap[0], gap[1]) for gap in gaps],
        row[5],
        [float(gap[2]) if len(gap) > 2 else 0.0 for gap in gaps],
    )


def queue_sample(row: Any) -> QueueSample:
    """A queue sample from its row (site, desk, ts, length, est_wait_s, head_wait_s, source, present)."""
    return QueueSample(
        site=row[0],
        desk=row[1],
        ts=datetime.fromisoformat(row[2]),
        length=row[3],
        est_wait_s=row[4],
        head_wait_s=row[5],
        source=row[6],
        present=None if row[7] is None else bool(row[7]),
    )


def _device_id(message: Envelope) -> str:
    # Message ids are unique per device, not across the province: the derived tables key on both.
    return f"{message.site}/{message.desk}/{message.id}"


def _opt_utc(moment: datetime | None) -> str | None:
    return None if moment is None else record_time(moment)
