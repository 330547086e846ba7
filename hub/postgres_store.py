"""PostgreSQL implementation of the hub's store (psycopg 3), for a record shared by several hub workers.

It is the SQLite store with another connection: the same statements, translated once each into
PostgreSQL's dialect (``?`` → ``%s``, ``INSERT OR IGNORE`` → ``ON CONFLICT DO NOTHING``, ``INSERT OR
REPLACE`` → ``ON CONFLICT (key) DO UPDATE``), the same schema with PostgreSQL's types, and the few reads
that rely on an SQLite behaviour written again. Messages are deduplicated by their unique key
(site, desk, kind, id) with ``ON CONFLICT DO NOTHING``: a repeated id never overwrites the first.

Times stay ISO 8601 text in UTC as in SQLite, so both engines compare and return them alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from hub.connection import RecordConnection, RecordError, connect
from hub.loss import StreamLoss
from hub.migrations import ADVISORY_LOCK, HEAD, current_revision, upgrade
from hub.rollups import fill_new_rollups
from hub.sqlite_store import (
    INSERT_MESSAGE,
    INSERT_TICKET_EVENT,
    RAISED_ALERTS,
    SCHEMA,
    STREAM_LOSS_COLUMNS,
    TICKET_EVENT_COLUMNS,
    MessageKey,
    SqliteStore,
    VisitKey,
    _take_pending,
    message_key,
    message_row,
    queue_sample,
    schema_statements,
    stream_loss,
    ticket_event,
)
from hub.store import LOCK_SLOTS, QueueSample, record_time
from hub.visits import TicketEventRecord
from protocol.errors import ConfigError
from protocol.messages import AlertMessage, AlertType, Envelope

# The primary key of each table written with INSERT OR REPLACE (the conflict target in PostgreSQL).
REPLACE_KEYS = {"visits": ("site", "day", "ticket"), "evaluation_months": ("staff", "month")}

_INSERT_OR_REPLACE = re.compile(r"^\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)", re.IGNORECASE)
_TWO_ARGUMENT_MAX = re.compile(r"\bMAX\(([\w.]+), ([\w.]+)\)")
_TWO_ARGUMENT_MIN = re.compile(r"\bMIN\(([\w.]+), ([\w.]+)\)")
_LOCK_BASE = 0x0E57_0000_0000_0000  # folded slots: away from the migrations' lock (hub.migrations.ADVISORY_LOCK)
# The reports' SQLite: ``IS NOT 'text'`` (PostgreSQL's ``IS DISTINCT FROM``), a 0/1 ``counted`` column used as a
# truth value, and the aggregates ``TOTAL`` and ``group_concat`` (rewritten by ``_rewrite_calls``).
_IS_NOT_TEXT = re.compile(r"\bIS NOT '")
_COUNTED_AND = re.compile(r"\b(\w+\.)?counted AND\b")
_AGGREGATE_CALL = re.compile(r"\b(TOTAL|group_concat)\(", re.IGNORECASE)
# At the top level of an argument: an operator that makes it a truth value (``TOTAL(a = b)`` counts rows).
_TRUTH_OPERATOR = re.compile(r"[<>=]|\b(IS|IN|AND|OR|NOT|LIKE|BETWEEN)\b", re.IGNORECASE)
# An insert of one row (translated): the rows buffered for it are sent as one statement whose parameters are
# one array per column, ``INSERT … SELECT * FROM unnest(%s::text[], %s::bigint[], …)``: a statement of fixed
# text (parsed once by psycopg, prepared by the server) for any number of rows.
_VALUES_INSERT = re.compile(r"^INSERT INTO (\w+) \(([^)]*)\) VALUES \((?:%s, )*%s\)(.*)$", re.DOTALL)
# DO UPDATE cannot touch one key twice in one statement: rows of a key repeated go in the next statement.
_CONFLICT_TARGET = re.compile(r"ON CONFLICT \(([^)]*)\) DO UPDATE")
ROWS_PER_INSERT = 10000


def _as_int(value: Any) -> Any:
    return None if value is None else int(value)


def _as_float(value: Any) -> Any:
    return None if value is None else float(value)


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _as_bytes(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


# A column's values as psycopg must see them to dump one array of the column's type (it refuses mixed lists).
_COLUMN_VALUES: dict[str, Callable[[Any], Any]] = {
    "bigint": _as_int,
    "integer": _as_int,
    "smallint": _as_int,
    "double precision": _as_float,
    "real": _as_float,
    "text": _as_text,
    "bytea": _as_bytes,
}


@dataclass(frozen=True, slots=True)
class _ArrayInsert:
    """An insert of one row rewritten to take one array per column."""

    sql: str
    values: tuple[Callable[[Any], Any] | None, ...]  # per column: what makes its values one type (None: as is)
    key: tuple[int, ...]  # the columns of the DO UPDATE conflict target (empty: rows of one key may share)

    def statements(self, rows: list[tuple[Any, ...]]) -> Iterator[list[list[Any]]]:
        """The array parameters of each statement that writes ``rows`` in their order."""
        rounds: list[list[tuple[Any, ...]]] = [rows]
        if self.key:  # the n-th row of each key goes in the n-th statement: per key, the order is kept
            rounds = []
            seen: dict[tuple[Any, ...], int] = {}
            for row in rows:
                key = tuple(row[i] for i in self.key)
                n = seen.get(key, 0)
                seen[key] = n + 1
                if n == len(rounds):
                    rounds.append([])
                rounds[n].append(row)
        for chunk_rows in rounds:
            for start in range(0, len(chunk_rows), ROWS_PER_INSERT):
                chunk = chunk_rows[start : start + ROWS_PER_INSERT]
                columns = [list(column) for column in zip(*chunk, strict=True)]
                for index, convert in enumerate(self.values):
                    if convert is not None:
                        columns[index] = [convert(value) for value in columns[index]]
                yield columns


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """An SQLite statement of the store in PostgreSQL's dialect."""
    if "%" in sql:
        sql = sql.replace("%", "%%")
    replace = _INSERT_OR_REPLACE.match(sql)
    if replace is not None:
        table, columns = replace.group(1), [c.strip() for c in replace.group(2).split(",")]
        key = REPLACE_KEYS[table]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        sql = f"INSERT INTO {sql[replace.start(1) :]} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    elif "INSERT OR IGNORE INTO" in sql:
        sql = sql.replace("INSERT OR IGNORE INTO", "INSERT INTO") + " ON CONFLICT DO NOTHING"
    sql = _TWO_ARGUMENT_MAX.sub(r"GREATEST(\1, \2)", sql)
    if "IS NOT '" in sql:
        sql = _IS_NOT_TEXT.sub("IS DISTINCT FROM '", sql)
    if "counted AND" in sql:
        sql = _COUNTED_AND.sub(lambda m: f"{m.group(0)[: -len(' AND')]} <> 0 AND", sql)
    if _AGGREGATE_CALL.search(sql):
        sql = _rewrite_calls(sql)
    sql = _TWO_ARGUMENT_MIN.sub(r"LEAST(\1, \2)", sql)
    return sql.replace("?", "%s")


def _rewrite_calls(sql: str) -> str:
    """SQLite's ``TOTAL(x)`` (a float sum, 0.0 over no row; of a truth value: how many rows it holds for) and
    ``group_concat(x)`` (the values as comma-separated text) in PostgreSQL's words."""
    out: list[str] = []
    position = 0
    for call in _AGGREGATE_CALL.finditer(sql):
        if call.start() < position:  # inside an argument already rewritten
            continue
        end = _closing(sql, call.end())
        argument = _rewrite_calls(sql[call.end() : end])
        if call.group(1).lower() == "group_concat":
            rewritten = f"string_agg(({argument})::text, ',')"
        elif _is_truth(argument):
            rewritten = f"COALESCE(SUM(CASE WHEN {argument} THEN 1 ELSE 0 END), 0)::float8"
        else:
            rewritten = f"COALESCE(SUM({argument}), 0)::float8"
        out += [sql[position : call.start()], rewritten]
        position = end + 1
    out.append(sql[position:])
    return "".join(out)


def _closing(sql: str, start: int) -> int:
    """The index of the parenthesis that closes the one opened just before ``start`` (quotes skipped)."""
    depth, quoted = 1, False
    for index in range(start, len(sql)):
        char = sql[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced parentheses in {sql!r}")


def _is_truth(argument: str) -> bool:
    """Whether an aggregate's argument is a truth value: an operator outside parentheses and CASE … END."""
    depth, top, quoted = 0, [], False
    for char in argument:
        if char == "'":
            quoted = not quoted
            continue
        if quoted:
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            top.append(char)
    text = "".join(top)
    if text.lstrip().upper().startswith("CASE"):
        return False
    return _TRUTH_OPERATOR.search(text) is not None


class PostgresStore(SqliteStore):
    """The record in a PostgreSQL database, every table of it shared by the hub's workers."""

    dialect = "postgresql"

    def __init__(self, dsn: str) -> None:  # noqa: D107 -- SqliteStore's set-up, another engine
        try:
            import psycopg
        except ImportError as error:  # pragma: no cover - the hub extra installs it
            raise ConfigError("database URL postgresql://…: psycopg is not installed (pip install psycopg)") from error
        self._psycopg = psycopg
        self._dsn = dsn
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        # Versioned migrations (hub/migrations, one worker at a time), then tables added to SCHEMA since the
        # last revision, created where absent (as on SQLite).
        if current_revision(self._conn.raw.execute) != HEAD:
            upgrade(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
        with self._conn.raw.transaction():
            self._conn.raw.execute(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")  # workers starting together
            for statement in schema_statements(SCHEMA, "postgresql"):
                self._conn.raw.execute(statement)
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._units_filled = False
        # Units and desks the record holds (the units table only grows): a batch adds only the others. Those a
        # transaction adds count as held once it commits.
        self._known_units: set[tuple[str, str]] = set()
        self._new_units: set[tuple[str, str]] = set()
        self._column_types = self._read_column_types()
        self._array_inserts: dict[str, _ArrayInsert | None] = {}
        with self._conn.raw.transaction():
            self._conn.raw.execute(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")  # one worker fills them
            fill_new_rollups(self)

    def _read_column_types(self) -> dict[str, dict[str, str]]:
        rows = self._conn.raw.execute(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
        )
        types: dict[str, dict[str, str]] = {}
        for table, column, kind in rows:
            types.setdefault(table, {})[column] = kind
        return types

    def _array_insert(self, sql: str) -> _ArrayInsert | None:
        """The array form of an insert of one row (None for any other statement), made once per statement."""
        if sql in self._array_inserts:
            return self._array_inserts[sql]
        plan = None
        translated = translate(sql)
        match = _VALUES_INSERT.match(translated)
        types = self._column_types.get(match.group(1), {}) if match is not None else {}
        columns = [c.strip() for c in match.group(2).split(",")] if match is not None else []
        if match is not None and all(c in types for c in columns):
            target = _CONFLICT_TARGET.search(match.group(3))
            key = [c.strip() for c in target.group(1).split(",")] if target is not None else []
            arrays = ", ".join(f"%b::{types[c]}[]" for c in columns)
            plan = _ArrayInsert(
                sql=f"INSERT INTO {match.group(1)} ({match.group(2)}) SELECT * FROM unnest({arrays}){match.group(3)}",
                values=tuple(_COLUMN_VALUES.get(types[c]) for c in columns),
                key=tuple(columns.index(c) for c in key),
            )
        self._array_inserts[sql] = plan
        return plan

    @property
    def dsn(self) -> str:
        """The database's connection URL (``postgresql://…``, without the local file)."""
        return self._dsn

    @property
    def path(self) -> Path:
        """No file: the record is in PostgreSQL (every part reaches it through the store or hub.connection).

        Raises:
            ConfigError: always.
        """
        raise ConfigError("database: the record is in PostgreSQL, not in an SQLite file (docs/scaling.md)")

    def connect(self) -> RecordConnection:
        """A new connection to the record, owned (and closed) by the caller."""
        try:
            return connect(self._dsn)
        except RecordError as error:  # the store's callers are told of a configuration to fix
            raise ConfigError(str(error)) from error

    @property
    def _conn(self) -> RecordConnection:  # type: ignore[override]
        conn: RecordConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit everything inside together; roll back on error."""
        try:
            with self._conn.raw.transaction():
                yield
                self._flush(final=True)
        except BaseException:
            self._pending.clear()
            self._new_units.clear()
            raise
        if self._conn.raw.info.transaction_status == self._psycopg.pq.TransactionStatus.IDLE:  # committed
            self._known_units |= self._new_units
            self._new_units.clear()

    def existing_messages(self, keys: list[MessageKey]) -> dict[MessageKey, str]:
        """The payloads of those of these (site, desk, kind, id) keys already in the record: one round trip."""
        found: dict[MessageKey, str] = {}
        if not keys:
            return found
        rows = self._conn.raw.execute(
            "SELECT k.site, k.desk, k.kind, k.id, m.payload "
            "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) AS k (site, desk, kind, id) "
            "JOIN messages m ON m.site = k.site AND m.desk = k.desk AND m.kind = k.kind AND m.id = k.id",
            [list(column) for column in zip(*keys, strict=True)],
        )
        for site, desk, kind, message_id, payload in rows:
            found[(site, desk, kind, message_id)] = payload
        return found

    def visits_events(self, visits: list[VisitKey]) -> dict[VisitKey, list[TicketEventRecord]]:
        """All events of each of these visits (site, day, ticket): one round trip for all of them."""
        found: dict[VisitKey, list[TicketEventRecord]] = {key: [] for key in visits}
        if not found:
            return found
        self._flush(only=INSERT_TICKET_EVENT)
        columns = ", ".join(f"e.{c.strip()}" for c in TICKET_EVENT_COLUMNS.split(","))
        rows = self._conn.raw.execute(
            f"SELECT v.site, v.day, v.ticket, {columns} "
            "FROM unnest(%b::text[], %b::text[], %b::text[]) AS v (site, day, ticket) "
            "JOIN ticket_events e ON e.site = v.site AND e.day = v.day AND e.ticket = v.ticket",
            [list(column) for column in zip(*found, strict=True)],
        )
        for row in rows:
            found[(row[0], row[1], row[2])].append(ticket_event(row[3:]))
        return found

    def stream_losses(
        self, devices: list[tuple[str, str]] | None = None, *, open_only: bool = False
    ) -> list[StreamLoss]:
        """The numbered streams of these (site, desk) devices (one round trip for all), or of every device."""
        if devices is None:
            return super().stream_losses(open_only=open_only)
        if not devices:
            return []
        columns = ", ".join(f"s.{c.strip()}" for c in STREAM_LOSS_COLUMNS.split(","))
        rows = self._conn.raw.execute(
            f"SELECT {columns} FROM unnest(%b::text[], %b::text[]) AS d (site, desk) "
            "JOIN seq_streams s ON s.site = d.site AND s.desk = d.desk",
            [list(column) for column in zip(*dict.fromkeys(devices), strict=True)],
        )
        return [stream_loss(row) for row in rows]

    def _flush(self, only: str | None = None, final: bool = False) -> None:
        if only is not None:
            rows = self._pending.pop(only, None)
            if rows:
                self._write_rows(only, rows)
            return
        pending = _take_pending(self._pending, final)
        if not pending:
            return
        with self._conn.raw.pipeline():  # every statement of the unit of work in one round trip
            for sql, rows in pending.items():
                self._write_rows(sql, rows)

    def _write_rows(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        plan = self._array_insert(sql)
        if plan is None:
            self._conn.executemany(sql, rows)
            return
        for arrays in plan.statements(rows):
            self._conn.raw.execute(plan.sql, arrays)

    def lock_keys(self, keys: list[int], slots: int = LOCK_SLOTS) -> None:
        """Hold these 63-bit keys, folded onto ``slots`` advisory locks, until the transaction ends; taken in
        ascending order so that two workers' transactions never wait on each other in a cycle: another's that
        needs one of them waits for this one to commit. Each number of slots is a space of its own.

        The writes buffered so far (but those held to the commit) are sent first: the server's work on them is
        done before, not while, this transaction holds the locks."""
        base = _LOCK_BASE + (slots << 32)
        folded = sorted({base + key % slots for key in keys})
        if folded:
            self._flush()
            lock = "SELECT pg_advisory_xact_lock(k) FROM unnest(%b::bigint[]) AS k"
            self._conn.raw.execute(lock, (folded,)).fetchall()

    def claim_messages(self, messages: list[tuple[Envelope, bytes, datetime]]) -> dict[MessageKey, str]:
        """Keep those of these (message, payload, received_at), of distinct keys, that the record does not hold
        yet, in one statement, and return the stored payloads of the others.

        Several workers: the record's unique key decides which worker keeps a message sent twice. An insert
        that meets another transaction's insert of the same key waits until that one ends (then it is the
        other's, or it is this one's); the rows go in key order, so two batches never wait on each other in a
        cycle."""
        if not messages:
            return {}
        rows = sorted(
            (message_row(message, payload, received_at) for message, payload, received_at in messages),
            key=lambda row: (row[2], row[3], row[1], row[0]),
        )
        plan = self._array_insert(INSERT_MESSAGE)
        assert plan is not None  # a one-row insert of the messages table
        self._flush()
        kept: set[MessageKey] = set()
        for arrays in plan.statements(rows):
            claimed = self._conn.raw.execute(plan.sql + " RETURNING site, desk, kind, id", arrays).fetchall()
            kept.update((site, desk, kind, message_id) for site, desk, kind, message_id in claimed)
        keys = [message_key(m) for m, _, _ in messages]
        others = [key for key in keys if key not in kept]
        # Each unit and desk once, in key order (two batches adding the same new desks never wait in a cycle).
        units = {(m.site, m.desk): m for (m, _, _), key in zip(messages, keys, strict=True) if key in kept}
        for unit, message in sorted(units.items()):
            if unit not in self._known_units:
                self._add_unit(message)
                self._new_units.add(unit)
        return self.existing_messages(others) if others else {}

    def raised_alerts(
        self, alert: AlertType | None = None, devices: Collection[tuple[str, str]] | None = None
    ) -> list[AlertMessage]:
        """:meth:`SqliteStore.raised_alerts`, the devices sent as two arrays: a statement of a batch's thousand
        devices written out as VALUES is parsed anew by psycopg on every batch."""
        if devices is None:
            return super().raised_alerts(alert, devices)
        keys = list(dict.fromkeys(devices))
        if not keys:
            return []
        of_type, args = ("", []) if alert is None else (" AND s.alert = %s", [alert.value])
        rows = self._conn.raw.execute(
            f"{RAISED_ALERTS} JOIN unnest(%b::text[], %b::text[]) AS d (site, desk) "
            f"ON d.site = s.site AND d.desk = s.desk WHERE s.state = 'raised'{of_type} ORDER BY a.ts",
            [[site for site, _ in keys], [desk for _, desk in keys], *args],
        )
        return [AlertMessage.model_validate_json(row[0]) for row in rows]

    def claim_alerts(self, alerts: list[AlertMessage]) -> list[AlertMessage]:
        """:meth:`claim_alert` of each of these alerts in one statement (a tick that sees a province's desks go
        offline claims thousands); those whose change this call claimed, in their order."""
        keys = [(a.site, a.desk, a.alert.value) for a in alerts]
        if len(set(keys)) < len(keys):  # one statement cannot change a row twice: one by one
            return super().claim_alerts(alerts)
        if not alerts:
            return []
        # In key order: two workers' ticks claim the same alerts at once, each row waiting for the other's commit.
        rows = sorted((*key, a.state.value, a.id, record_time(a.ts)) for key, a in zip(keys, alerts, strict=True))
        claimed = self._conn.raw.execute(
            "INSERT INTO alert_states (site, desk, alert, state, alert_id, ts) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) "
            "ON CONFLICT (site, desk, alert) DO UPDATE SET state = excluded.state, alert_id = excluded.alert_id, "
            "ts = excluded.ts WHERE alert_states.state <> excluded.state RETURNING site, desk, alert",
            [list(column) for column in zip(*rows, strict=True)],
        ).fetchall()
        won = {tuple(row) for row in claimed}
        return [a for key, a in zip(keys, alerts, strict=True) if key in won]

    def announce(self, changes: list[Any]) -> None:
        """Announce the live board's changes to every worker (``NOTIFY``, sent when the transaction commits)."""
        from hub.live_feed import CHANNEL, payloads

        texts = list(payloads(changes))
        if texts:
            self._conn.raw.execute(
                "SELECT pg_notify(%s, pg_current_xact_id()::text || ' ' || p) FROM unnest(%b::text[]) AS p",
                (CHANNEL, texts),
            ).fetchall()

    @contextmanager
    def snapshot(self) -> Iterator[str]:
        """Read inside one snapshot (REPEATABLE READ) on this thread's connection; yields its text."""
        with self._conn.raw.transaction():
            self._conn.raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = self._conn.raw.execute("SELECT pg_current_snapshot()::text").fetchone()
            yield str(row[0])

    def listening_connection(self) -> Any:
        """A new autocommit connection of its own, for the live feed's ``LISTEN``."""
        return self._psycopg.connect(self._dsn, autocommit=True)

    def add_rejected(self, topic: str, payload: bytes, reason: str, received_at: datetime) -> None:
        """Keep a rejected message with its reason (PostgreSQL text cannot hold NUL: shown escaped)."""
        super().add_rejected(topic.replace("\x00", "\\x00"), payload, reason.replace("\x00", "\\x00"), received_at)

    def latest_queue_samples(self, until: datetime | None = None) -> list[QueueSample]:
        """The latest queue sample of every desk (dated at most ``until`` when given)."""
        where, args = ("WHERE ts <= %s ", (record_time(until),)) if until is not None else ("", ())
        rows = self._conn.raw.execute(
            "SELECT DISTINCT ON (site, desk) site, desk, ts, length, est_wait_s, head_wait_s, source, present "
            f"FROM queue_samples {where}ORDER BY site, desk, ts DESC",
            args or None,
        )
        return [queue_sample(row) for row in rows]
