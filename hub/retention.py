"""Retention of personal data: the daily purge and the erasure of one comment on request.

What goes, and when (``retention`` in the hub's configuration, see ``hub.privacy_settings``):

- a comment's text after ``comment_text_days``: the row stays with its sentiment, the text becomes NULL,
  in the ``feedback`` table and in the stored copy of the message;
- per-ticket records after ``ticket_records_years``: ticket events, visits, transactions, ratings, comments,
  emotions, queue samples and their stored messages. Before they go, each unit's figures of each of those
  days are computed and kept in ``daily_figures`` (one JSON row per unit and day), so the history of a unit
  stays readable. The officer-level roll-ups of those days (``rollup_desk_days``: per desk, officer and service
  field) go with them: they are personnel figures drawn from the records that go, and no rule asks to keep them
  longer. The unit-level roll-ups (``rollup_unit_days``: no person in them) stay, as ``daily_figures`` do;
- audit-log entries after ``audit_years``.

Rejected payloads are pruned by the ingest (its own retention). The purge writes through its own connection
to the record (SQLite or PostgreSQL, ``hub.connection``), in short transactions, so the ingest keeps running
while it works.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.audit import AuditLog
from hub.connection import RecordConnection, connect
from hub.privacy_settings import RetentionSettings

logger = logging.getLogger(__name__)

DAILY_FIGURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS daily_figures (
    site TEXT NOT NULL, day TEXT NOT NULL, figures TEXT NOT NULL, computed_at TEXT NOT NULL,
    PRIMARY KEY (site, day));
"""
# Tables with one row per ticket, rating, comment, emotion or sample, and the column holding the local day.
PER_TICKET_TABLES = (
    ("ticket_events", "day"),
    ("transactions", "day"),
    ("visits", "day"),
    ("ratings", "day"),
    ("feedback", "day"),
    ("emotions", "day"),
)
PER_TICKET_KINDS = ("ticket", "queue", "rating", "feedback", "emotion")
PURGE_INTERVAL_S = 24 * 3600.0

Summarise = Callable[[str, date], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PurgeOutcome:
    """What one purge removed."""

    comment_texts: int
    days_summarised: int
    ticket_rows: int
    messages: int
    audit_entries: int
    officer_rollup_rows: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for the log, the CLI and the audit entry."""
        return asdict(self)


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


# A comment's text dropped from its stored message (the payload is JSON text on both engines).
ERASE_MESSAGE_TEXT = {
    False: "UPDATE messages SET payload = json_remove(payload, '$.text') WHERE kind = 'feedback' AND "
    "json_valid(payload) AND json_extract(payload, '$.text') IS NOT NULL",
    True: "UPDATE messages SET payload = (payload::jsonb - 'text')::text WHERE kind = 'feedback' AND "
    "payload::jsonb ->> 'text' IS NOT NULL",
}
Database = str | Path  # the record's URL, or an SQLite file


def _connect(database: Database) -> RecordConnection:
    conn = connect(database)
    conn.execute_script(DAILY_FIGURES_SCHEMA)
    return conn


def purge(
    database: Database,
    retention: RetentionSettings,
    zone: ZoneInfo,
    now: datetime,
    summarise: Summarise,
    audit: AuditLog,
) -> PurgeOutcome:
    """Remove what the retention settings no longer allow, keeping each unit's daily figures; audited."""
    now = now.astimezone(UTC)
    text_cutoff = now - timedelta(days=retention.comment_text_days)
    ticket_cutoff = _years_before(now, retention.ticket_records_years)
    text_day = text_cutoff.astimezone(zone).date().isoformat()
    ticket_day = ticket_cutoff.astimezone(zone).date().isoformat()
    conn = _connect(database)
    try:
        texts = _erase_texts(conn, "day < ?", (text_day,), "ts < ?", (text_cutoff.isoformat(),))
        summarised = 0
        if conn.has_table("visits"):
            days = conn.execute(
                "SELECT DISTINCT site, day FROM visits WHERE day < ? UNION "
                "SELECT DISTINCT site, day FROM ratings WHERE day < ?",
                (ticket_day, ticket_day),
            ).fetchall()
            for site, day in sorted(days):
                figures = summarise(site, date.fromisoformat(day))
                conn.execute(
                    "INSERT OR IGNORE INTO daily_figures (site, day, figures, computed_at) VALUES (?, ?, ?, ?)",
                    (site, day, json.dumps(figures, ensure_ascii=False, default=str), now.isoformat()),
                )
                summarised += 1
        rows = 0
        for table, column in PER_TICKET_TABLES:
            if conn.has_table(table):
                rows += conn.execute(f"DELETE FROM {table} WHERE {column} < ?", (ticket_day,)).rowcount
        if conn.has_table("queue_samples"):
            rows += conn.execute("DELETE FROM queue_samples WHERE ts < ?", (ticket_cutoff.isoformat(),)).rowcount
        officer_rows = 0
        if conn.has_table("rollup_desk_days"):  # per officer: goes with the records it was drawn from
            officer_rows = conn.execute("DELETE FROM rollup_desk_days WHERE day < ?", (ticket_day,)).rowcount
        messages = 0
        if conn.has_table("messages"):
            marks = ",".join("?" * len(PER_TICKET_KINDS))
            messages = conn.execute(
                f"DELETE FROM messages WHERE kind IN ({marks}) AND ts < ?",
                (*PER_TICKET_KINDS, ticket_cutoff.isoformat()),
            ).rowcount
    finally:
        conn.close()
    entries = audit.purge_before(_years_before(now, retention.audit_years))
    outcome = PurgeOutcome(texts, summarised, rows, messages, entries, officer_rows)
    audit.record("system", "retention.purge", "record", outcome.as_dict())
    logger.info("retention purge: %s", outcome.as_dict())
    return outcome


def _erase_texts(
    conn: RecordConnection, where: str, args: tuple[Any, ...], message_where: str, message_args: tuple[Any, ...]
) -> int:
    """NULL the text of the comments ``where`` selects, and drop it from their stored messages."""
    if not conn.has_table("feedback"):
        return 0
    with conn.transaction():
        erased: int = conn.execute(f"UPDATE feedback SET text = NULL WHERE text IS NOT NULL AND {where}", args).rowcount
        conn.execute(f"{ERASE_MESSAGE_TEXT[conn.postgresql]} AND {message_where}", message_args)
    return erased


def erase_comment(database: Database, site: str, desk: str, message_id: str, actor: str, audit: AuditLog) -> bool:
    """Erase the text of one comment on the citizen's request (its sentiment stays); audited. Whether it had
    a text to erase. A comment is named by its unit, desk and message id (ids are unique per device only)."""
    conn = _connect(database)
    try:
        erased = (
            _erase_texts(
                conn,
                "id = ?",
                (f"{site}/{desk}/{message_id}",),
                "site = ? AND desk = ? AND id = ?",
                (site, desk, message_id),
            )
            > 0
        )
    finally:
        conn.close()
    audit.record(actor, "feedback.text.erase", f"{site}/{desk}/{message_id}", {"erased": erased})
    return erased


def comment_texts(database: Database, site: str, day: str, limit: int = 200) -> list[dict[str, Any]]:
    """The consented comment texts of a unit on a day (for an admin answering a request), newest first."""
    conn = _connect(database)
    try:
        if not conn.has_table("feedback"):
            return []
        rows = conn.execute(
            "SELECT substr(id, length(site) + length(desk) + 3), desk, ts, sentiment, ticket, text FROM feedback "
            "WHERE site = ? AND day = ? "
            "AND text IS NOT NULL ORDER BY ts DESC LIMIT ?",
            (site, day, limit),
        ).fetchall()
    finally:
        conn.close()
    keys = ("id", "desk", "ts", "sentiment", "ticket", "text")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def kept_day_figures(database: Database, site: str, day: str) -> dict[str, Any] | None:
    """The figures of a unit's day kept by the purge when its per-ticket records went, if any."""
    conn = connect(database)
    try:
        if not conn.has_table("daily_figures"):
            return None
        row = conn.execute("SELECT figures FROM daily_figures WHERE site = ? AND day = ?", (site, day)).fetchone()
    finally:
        conn.close()
    return None if row is None else dict(json.loads(row[0]))


class DailyPurge:
    """Runs the purge once a day in a background thread of the running hub (first run a minute after start)."""

    def __init__(self, run: Callable[[], object], interval_s: float = PURGE_INTERVAL_S, first_s: float = 60.0) -> None:
        self._run = run
        self._interval = interval_s
        self._first = first_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention-purge", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _loop(self) -> None:
        wait = self._first
        while not self._stop.wait(wait):
            try:
                self._run()
            except Exception:  # a failed purge is logged and tried again tomorrow; the hub keeps running
                logger.exception("retention purge failed")
            wait = self._interval

    def stop(self) -> None:
        """Stop the thread (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
