"""The persistent side of alert delivery, in the record (SQLite or PostgreSQL), shared by every hub worker.

Tables (all prefixed ``notify_``, in ``hub.sqlite_store.SCHEMA``):

- ``notify_alerts``: every alert the hub raised or cleared, as the deliveries saw it, with the *root* alert it
  continues (a hub restart re-raises a still-open alert under a new id: it is the same alert for people);
- ``notify_outbox``: one row per alert, recipient, channel and stage (first delivery or escalation), unique,
  so that an alert goes out once per recipient and channel even across restarts and workers; pending rows
  survive a restart and are sent then. A worker *claims* a due row before sending it (``claimed_by``,
  ``claimed_until``: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, the one writer's transaction on
  SQLite); no other worker takes it until the claim's lease runs out, so a worker that dies mid-send leaves
  the delivery to another one after the lease;
- the same outbox carries each alert's publication on the broker's alert topic (recipient ``broker``, channel
  ``mqtt``), queued with the alert, so that an alert raised by a worker killed right after its commit is still
  published, by whichever worker claims it;
- ``notify_attempts``: every attempt of every delivery, with its outcome (the delivery log);
- ``notify_escalations``: the second person's turn, due at a time unless someone acknowledges first;
- ``notify_acks``: who acknowledged an alert, and when.

One connection of its own (``Store.connect()``) behind a lock; writes are small and short, so the ingest writer
never waits long. An alert the ingest raises is taken in by the ingest's own transaction instead
(:class:`StoreUnit`, :func:`take_alert_in`): the alert and its deliveries commit together. An acknowledgement made
through any worker stops the escalation every worker would make.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from hub.connection import RecordConnection, connect
from hub.database import Engine
from protocol.messages import AlertMessage, AlertState

if TYPE_CHECKING:  # hub.store imports hub.config, which imports the notifier
    from hub.store import Store

# PostgreSQL: the intake of alerts (which alert continues which) runs one worker at a time.
INTAKE_LOCK = 4242010
# The alert's publication on the broker's alert topic: one more delivery of each alert, to this recipient on this
# channel (hub.notify.service), kept apart from the deliveries to people in the counts and the delivery log.
BROKER_RECIPIENT = "broker"
BROKER_CHANNEL = "mqtt"
FOR_PEOPLE = f"channel <> '{BROKER_CHANNEL}'"
CLAIM_ENDS = "claimed_by = NULL, claimed_until = NULL"
QUEUE_DELIVERY = (
    "INSERT OR IGNORE INTO notify_outbox (alert_id, recipient, channel, stage, created_at, due_at, held) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
SCHEDULE_ESCALATION = (
    "INSERT INTO notify_escalations (root_id, to_recipient, from_recipient, due_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (root_id, to_recipient) DO UPDATE SET due_at = MIN(notify_escalations.due_at, excluded.due_at)"
)


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


class Attempt(NamedTuple):
    """The outcome of one attempt of a delivery: sent (``ok``), due again at ``retry_at``, or failed for good."""

    seq: int
    ok: bool
    detail: str
    duration_ms: float
    retry_at: datetime | None


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
    """The delivery tables in the record (a connection of its own; a path: an SQLite record file)."""

    def __init__(self, record: RecordConnection | Path) -> None:
        # One connection behind a lock (as the audit log): every statement here is short.
        self._lock = threading.RLock()
        from hub.sqlite_store import SHARED_SCHEMA  # here: hub.sqlite_store imports hub.config

        self._db = connect(record, tables=SHARED_SCHEMA) if isinstance(record, Path) else record
        self._postgresql = self._db.engine is Engine.POSTGRESQL
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
    def _transaction(self) -> Iterator[RecordConnection]:
        with self._lock, self._db.transaction():
            yield self._db

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

    @contextmanager
    def unit(self) -> Iterator[UnitOfWork]:
        """One transaction on the outbox's own connection, for :func:`take_alert_in` and its deliveries."""
        with self._transaction() as conn:
            yield _ConnectionUnit(conn, self._postgresql)

    def take_alert(self, alert: AlertMessage, day: str) -> tuple[str, bool] | None:
        """Keep an alert, in a transaction of its own (see :func:`take_alert_in`)."""
        with self.unit() as unit:
            return take_alert_in(unit, alert, day)

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
        return self._queue(alert_id, recipient, channel, stage, now, due_at)

    def _queue(self, alert_id: str, recipient: str, channel: str, stage: str, now: datetime, due_at: datetime) -> bool:
        return self._write(QUEUE_DELIVERY, _delivery_row(alert_id, recipient, channel, stage, now, due_at)) == 1

    def claim_due(self, channel: str, now: datetime, worker: str, lease_until: datetime) -> Delivery | None:
        """Claim the pending delivery on a channel due first, for ``worker`` until ``lease_until``; None when
        none is due, or every due one is claimed by a worker whose lease has not run out."""
        claimed = self.claim_due_many(channel, now, worker, lease_until, 1)
        return claimed[0] if claimed else None

    def claim_due_many(
        self, channel: str, now: datetime, worker: str, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries on a channel, those due first (see :meth:`claim_due`)."""
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._postgresql else ""  # SQLite: the one writer's lock
        at = utc_text(now)
        due = (
            "SELECT seq FROM notify_outbox WHERE status = 'pending' AND channel = ? AND due_at <= ? "
            "AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY due_at, seq LIMIT ?"
        )
        # A read first: most looks find nothing due, and must not take SQLite's writer lock every second.
        if self._one(due, (channel, at, at, 1)) is None:
            return []
        with self._transaction() as conn:
            seqs = [row[0] for row in conn.execute(f"{due}{skip_locked}", (channel, at, at, limit)).fetchall()]
            if not seqs:
                return []
            marks = ", ".join("?" * len(seqs))
            conn.execute(
                f"UPDATE notify_outbox SET claimed_by = ?, claimed_until = ? WHERE seq IN ({marks})",
                (worker, utc_text(lease_until), *seqs),
            )
            claimed = conn.execute(
                "SELECT o.seq, o.alert_id, o.recipient, o.channel, o.stage, o.attempts, a.payload "
                f"FROM notify_outbox o JOIN notify_alerts a ON a.alert_id = o.alert_id WHERE o.seq IN ({marks}) "
                "ORDER BY o.due_at, o.seq",
                tuple(seqs),
            ).fetchall()
        return [Delivery(*row) for row in claimed]

    def next_due(self, channel: str) -> datetime | None:
        """When the next pending delivery on a channel may be sent (a claimed one: when its lease runs out)."""
        row = self._one(
            "SELECT MIN(CASE WHEN claimed_until > due_at THEN claimed_until ELSE due_at END) FROM notify_outbox "
            "WHERE status = 'pending' AND channel = ?",
            (channel,),
        )
        return None if row is None or row[0] is None else datetime.fromisoformat(row[0])

    def release_claims(self, worker: str) -> int:
        """End the claims ``worker`` held on pending deliveries (it restarted: they died with it); how many."""
        return self._write(
            f"UPDATE notify_outbox SET {CLAIM_ENDS} WHERE claimed_by = ? AND status = 'pending'", (worker,)
        )

    def record_attempt(
        self, seq: int, now: datetime, ok: bool, detail: str, duration_ms: float, retry_at: datetime | None
    ) -> None:
        """Log an attempt; mark the delivery sent, due again at ``retry_at``, or failed for good (its claim ends)."""
        self.record_attempts(now, [Attempt(seq, ok, detail, duration_ms, retry_at)])

    def record_attempts(self, now: datetime, attempts: Sequence[Attempt]) -> None:
        """Log attempts made at ``now``, in one transaction (see :meth:`record_attempt`)."""
        with self._transaction() as conn:
            for seq, ok, detail, duration_ms, retry_at in attempts:
                conn.execute(
                    "INSERT INTO notify_attempts (outbox_seq, at, ok, duration_ms, detail) VALUES (?, ?, ?, ?, ?)",
                    (seq, utc_text(now), int(ok), duration_ms, detail[:500]),
                )
                if ok:
                    conn.execute(
                        "UPDATE notify_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, "
                        f"last_error = NULL, {CLAIM_ENDS} WHERE seq = ?",
                        (utc_text(now), seq),
                    )
                elif retry_at is not None:
                    conn.execute(
                        "UPDATE notify_outbox SET attempts = attempts + 1, last_error = ?, due_at = ?, "
                        f"{CLAIM_ENDS} WHERE seq = ?",
                        (detail[:500], utc_text(retry_at), seq),
                    )
                else:
                    conn.execute(
                        "UPDATE notify_outbox SET status = 'failed', attempts = attempts + 1, last_error = ?, "
                        f"{CLAIM_ENDS} WHERE seq = ?",
                        (detail[:500], seq),
                    )

    def counts(self, broker: bool = False) -> dict[str, int]:
        """Deliveries to people by status (pending, sent, failed); with ``broker``, the alerts' publications on
        the broker instead."""
        where = f"channel = '{BROKER_CHANNEL}'" if broker else FOR_PEOPLE
        rows = self._execute(f"SELECT status, COUNT(*) FROM notify_outbox WHERE {where} GROUP BY status")
        return {"pending": 0, "sent": 0, "failed": 0, **{str(status): int(n) for status, n in rows}}

    def deliveries(
        self, site: str | None = None, alert_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The delivery log to people, newest first, each delivery with its attempts."""
        clauses, args = [f"o.{FOR_PEOPLE}"], []
        if site is not None:
            clauses.append("a.site = ?")
            args.append(site)
        if alert_id is not None:  # the alert and any re-raising of it after a restart
            clauses.append("a.root_id = ?")
            args.append(self.root_of(alert_id) or alert_id)
        where = f"WHERE {' AND '.join(clauses)}"
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
        self._write(SCHEDULE_ESCALATION, (root_id, to_recipient, from_recipient, utc_text(due_at)))

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

    def decide_escalation(
        self,
        root_id: str,
        to_recipient: str,
        status: str,
        now: datetime,
        deliveries: Sequence[tuple[str, str, str, datetime]] = (),
    ) -> bool:
        """Close a waiting escalation (``sent``, ``acknowledged``, ``cleared``, ``no_recipient``) and queue its
        deliveries (recipient, channel, stage, due) with it; False when another worker decided it first, or, for
        ``sent``, when the alert was acknowledged meanwhile (nothing is queued then)."""
        guard = " AND NOT EXISTS (SELECT 1 FROM notify_acks k WHERE k.root_id = ?)" if status == "sent" else ""
        with self._transaction() as conn:
            decided = conn.execute(
                "UPDATE notify_escalations SET status = ?, decided_at = ? WHERE root_id = ? AND to_recipient = ? "
                f"AND status = 'waiting'{guard}",
                (status, utc_text(now), root_id, to_recipient, *((root_id,) if guard else ())),
            ).rowcount
            if decided != 1:
                return False
            for recipient, channel, stage, due_at in deliveries:
                self._queue(root_id, recipient, channel, stage, now, due_at)
        return True

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


class UnitOfWork(Protocol):
    """Statements of one transaction: the outbox's own (:meth:`Outbox.unit`), or the ingest's, which records the
    alert itself (:class:`StoreUnit`), so that an alert kept in the record is never without its deliveries."""

    def read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        """Rows of a read that sees the transaction's earlier writes."""
        ...

    def write(self, sql: str, args: tuple[Any, ...]) -> None:
        """A write (in order with the reads)."""
        ...

    def hold(self, key: int) -> None:
        """Hold an advisory lock until the transaction ends (PostgreSQL; SQLite's one writer holds them all)."""
        ...


class _ConnectionUnit:
    def __init__(self, conn: RecordConnection, postgresql: bool) -> None:
        self._conn = conn
        self._postgresql = postgresql

    def read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        return list(self._conn.execute(sql, args).fetchall())

    def write(self, sql: str, args: tuple[Any, ...]) -> None:
        self._conn.execute(sql, args)

    def hold(self, key: int) -> None:
        if self._postgresql:
            self._conn.execute("SELECT pg_advisory_xact_lock(?)", (key,))


class StoreUnit:
    """The unit of work in progress on the store's writing thread (the processor's batch or tick)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._held: set[int] = set()  # held until the unit of work ends: taken once (a tick may take thousands)

    def read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        return self._store.query(sql, args, flush=True)

    def write(self, sql: str, args: tuple[Any, ...]) -> None:
        self._store.write(sql, args)

    def hold(self, key: int) -> None:
        if key not in self._held:
            self._store.lock_keys([key])
            self._held.add(key)


def take_alert_in(unit: UnitOfWork, alert: AlertMessage, day: str) -> tuple[str, bool] | None:
    """Keep an alert for delivery; return (its root id, whether it continues an open one), or None when seen
    before.

    A raised alert continues the open alert of the same desk and kind raised the same local day (a hub restart
    used to forget which alerts are open and raise them again). A cleared alert closes the open one.
    """
    return take_alerts_in(unit, [(alert, day)])[0]


# Alerts judged on one read (each takes 4 parameters of it).
INTAKE_READ = 500
_OpenRow = tuple[str, str, str]  # root_id, day, ts of an open (raised, not cleared) alert


def take_alerts_in(unit: UnitOfWork, alerts: Sequence[tuple[AlertMessage, str]]) -> list[tuple[str, bool] | None]:
    """:func:`take_alert_in` of each (alert, local day) in turn, with one read for up to ``INTAKE_READ`` of them
    instead of one each (a tick that sees a province's desks go offline takes thousands). What was read is kept
    in step with the unit's own writes, so that each alert is judged as a read of its own after the ones
    before it would judge it; an alert of a desk and kind already in the read starts a new read."""
    taken: list[tuple[str, bool] | None] = []
    if not alerts:
        return taken
    unit.hold(INTAKE_LOCK)  # PostgreSQL: two workers taking alerts of one desk at once would both open it
    for run in _runs(alerts):
        seen, open_rows = _intake_state(unit, [alert for alert, _ in run])
        taken += [_take_one(unit, alert, day, seen, open_rows) for alert, day in run]
    return taken


def _runs(alerts: Sequence[tuple[AlertMessage, str]]) -> Iterator[list[tuple[AlertMessage, str]]]:
    """The alerts in runs of at most ``INTAKE_READ``, none with a desk and kind twice."""
    run: list[tuple[AlertMessage, str]] = []
    keys: set[tuple[str, str, str]] = set()
    for alert, day in alerts:
        key = (alert.site, alert.desk, alert.alert.value)
        if key in keys or len(run) == INTAKE_READ:
            yield run
            run, keys = [], set()
        run.append((alert, day))
        keys.add(key)
    if run:
        yield run


def _intake_state(
    unit: UnitOfWork, alerts: list[AlertMessage]
) -> tuple[set[str], dict[tuple[str, str, str], list[_OpenRow]]]:
    """Which of these alerts' ids were taken before, and the open alerts of their desks and kinds: one read.

    The open alerts are read by unit and kind (an index's leading column), and matched to desks here: joined to
    a list of (site, desk, kind), PostgreSQL planned a nested loop over every open alert for each desk when its
    statistics still saw the table empty (a tick's storm of 17,000 alerts took 30 s; bench_country)."""
    ids = list(dict.fromkeys(a.id for a in alerts))
    keys = set(dict.fromkeys((a.site, a.desk, a.alert.value) for a in alerts))
    sites = list(dict.fromkeys(a.site for a in alerts))
    kinds = list(dict.fromkeys(a.alert.value for a in alerts))
    rows = unit.read(
        "SELECT 1, alert_id, NULL, NULL, NULL, NULL, NULL FROM notify_alerts "
        f"WHERE alert_id IN ({', '.join('?' * len(ids))}) UNION ALL "
        "SELECT 0, root_id, day, ts, site, desk, kind FROM notify_alerts "
        f"WHERE site IN ({', '.join('?' * len(sites))}) AND kind IN ({', '.join('?' * len(kinds))}) "
        "AND state = 'raised' AND cleared_at IS NULL",
        (*ids, *sites, *kinds),
    )
    seen = {row[1] for row in rows if row[0] == 1}
    open_rows: dict[tuple[str, str, str], list[_OpenRow]] = {}
    for row in rows:
        if row[0] == 0 and (row[4], row[5], row[6]) in keys:
            open_rows.setdefault((row[4], row[5], row[6]), []).append((row[1], row[2], row[3]))
    return seen, open_rows


def _take_one(
    unit: UnitOfWork,
    alert: AlertMessage,
    day: str,
    seen: set[str],
    open_rows: dict[tuple[str, str, str], list[_OpenRow]],
) -> tuple[str, bool] | None:
    """One alert of :func:`take_alerts_in`, on what was read (and is kept in step here)."""
    if alert.id in seen:
        return None
    key = (alert.site, alert.desk, alert.alert.value)
    candidates = open_rows.get(key, [])
    open_row = max(candidates, key=lambda row: row[2]) if candidates else None  # the latest (ORDER BY ts DESC)
    root, continues = alert.id, False
    at = utc_text(alert.ts)
    closed = None
    if alert.state is AlertState.RAISED:
        if open_row is not None and open_row[1] == day:
            root, continues = open_row[0], True
        elif open_row is not None:  # open since an earlier day: the hub never saw it end
            closed = open_row[0]
    elif open_row is not None:
        root = closed = open_row[0]
    if closed is not None:
        unit.write("UPDATE notify_alerts SET cleared_at = ? WHERE root_id = ?", (at, closed))
        # A root's rows are all of one desk and kind (a raise continues only its own): only this key's change.
        candidates[:] = [row for row in candidates if row[0] != closed]
    unit.write(
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
    seen.add(alert.id)
    if alert.state is AlertState.RAISED:
        open_rows.setdefault(key, []).append((root, day, at))
    return root, continues


def queue_delivery_in(
    unit: UnitOfWork, alert_id: str, recipient: str, channel: str, stage: str, now: datetime, due_at: datetime
) -> None:
    """Queue a delivery in a unit of work (nothing when the same one is queued already)."""
    unit.write(QUEUE_DELIVERY, _delivery_row(alert_id, recipient, channel, stage, now, due_at))


def schedule_escalation_in(
    unit: UnitOfWork, root_id: str, from_recipient: str, to_recipient: str, due_at: datetime
) -> None:
    """Schedule the second person's turn in a unit of work (see :meth:`Outbox.add_escalation`)."""
    unit.write(SCHEDULE_ESCALATION, (root_id, to_recipient, from_recipient, utc_text(due_at)))


def _delivery_row(
    alert_id: str, recipient: str, channel: str, stage: str, now: datetime, due_at: datetime
) -> tuple[Any, ...]:
    return (alert_id, recipient, channel, stage, utc_text(now), utc_text(due_at), int(due_at > now))
