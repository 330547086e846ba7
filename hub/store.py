"""The system of record: what the hub keeps, behind a small interface.

SQLite (WAL) is the embedded default, PostgreSQL the record shared by several hub workers; the interface is kept
narrow and the SQL portable. Parts that write beside the ingest (audit log, alert outbox, sessions, evaluation
entries) take a ``hub.connection.RecordConnection`` of their own from :meth:`Store.connect`. Times are stored as UTC
ISO 8601 text; ``day`` columns hold the local day (YYYY-MM-DD) in the hub's time zone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from hub.connection import RecordConnection
from hub.database import Engine, parse_database_url
from hub.figures import RatingFact
from hub.loss import StreamLoss
from hub.visits import TicketEventRecord, Visit
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
)

MessageKey = tuple[str, str, str, str]
# How many advisory locks a set of keys is folded onto by default (several workers on PostgreSQL, ``lock_keys``):
# a batch then holds at most this many, far within the server's lock table.
LOCK_SLOTS = 256


@lru_cache(maxsize=8192)
def record_time(moment: datetime) -> str:
    """A moment as the record keeps it: ISO 8601 text in UTC.

    Remembered: a batch writes the same moments several times (its time of receipt on every row, a message's
    own time in its message row, its kind's row and the live feed), and isoformat is among a worker's largest
    costs."""
    if moment.utcoffset() == _NO_OFFSET:  # most messages already carry UTC: skip the conversion
        return moment.isoformat()
    return moment.astimezone(UTC).isoformat()


_NO_OFFSET = timedelta(0)


def message_key(message: Envelope) -> MessageKey:
    """A message's key in the record: (site, desk, kind, id); one id per device and kind."""
    return (message.site, message.desk, message.kind.value, message.id)


@dataclass(frozen=True, slots=True)
class RejectedMessage:
    """A message that did not conform, kept with the reason."""

    seq: int
    received_at: datetime
    topic: str
    payload: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class NodeHealth:
    """The last word from an edge node."""

    site: str
    desk: str
    last_seen: datetime
    online: bool | None
    heartbeat: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class QueueSample:
    """The latest queue measurement of a desk."""

    site: str
    desk: str
    ts: datetime
    length: int
    est_wait_s: float | None
    head_wait_s: float | None
    source: str
    present: bool | None


@dataclass(frozen=True, slots=True)
class LineFact:
    """A walk-out or a wait before the ticket, as the camera of a desk reported it."""

    desk: str
    day: str
    ts: datetime
    event: str
    duration_s: float


class Store(Protocol):
    """What the hub needs from its database. Writes happen on one thread; reads on any."""

    @property
    def path(self) -> Path:
        """The record's SQLite file (raises ``ConfigError`` on PostgreSQL)."""
        ...

    def connect(self) -> RecordConnection:
        """A new connection to the record, owned (and closed) by the caller."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A unit of work: everything inside commits together or not at all."""
        ...

    def existing_messages(self, keys: list[tuple[str, str, str, str]]) -> dict[tuple[str, str, str, str], str]:
        """The stored payloads of those of these (site, desk, kind, id) keys already in the record (deduplication)."""
        ...

    def claim_messages(self, messages: list[tuple[Envelope, bytes, datetime]]) -> dict[MessageKey, str]:
        """Keep those of these (message, payload, received_at), of distinct (site, desk, kind, id) keys, that the
        record does not hold yet; return the stored payloads of the others (deduplication, also between workers:
        of two transactions keeping one key at once, one keeps it and the other gets its payload)."""
        ...

    def add_message(self, message: Envelope, payload: bytes, received_at: datetime) -> None:
        """Keep an accepted message (writes may be buffered until the transaction commits)."""
        ...

    def add_rejected(self, topic: str, payload: bytes, reason: str, received_at: datetime) -> None:
        """Keep a message that was rejected, with the reason."""
        ...

    def add_ticket_event(self, site: str, day: str, ticket: str, event: TicketEventRecord) -> None:
        """Keep a ticket event under its visit key."""
        ...

    def ticket_events(self, site: str, day: str, ticket: str) -> list[TicketEventRecord]:
        """All events of one visit."""
        ...

    def visits_events(self, visits: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[TicketEventRecord]]:
        """All events of each of these visits (site, day, ticket), every visit of a batch at once."""
        ...

    def save_visit(self, site: str, day: str, visit: Visit) -> None:
        """Replace a visit and its transactions."""
        ...

    def add_rating(
        self, message: RatingMessage, day: str, counted: bool | None = None, hub_flags: tuple[str, ...] = ()
    ) -> None:
        """Keep a rating; ``counted`` is the hub's verdict (the kiosk's flags alone when None)."""
        ...

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
        """Whether a rating of this desk and day matching every condition given is in the record."""
        ...

    def ticket_served_at(self, site: str, day: str, ticket: str, desk: str) -> bool:
        """Whether the ticket was called (or served) at this desk on this day."""
        ...

    def add_feedback(self, message: FeedbackMessage, day: str) -> None:
        """Keep a comment's sentiment (and its text when the citizen consented)."""
        ...

    def add_emotion(self, message: EmotionMessage, day: str) -> None:
        """Keep an aggregated emotion of one service."""
        ...

    def add_queue_sample(self, message: QueueMessage) -> None:
        """Keep a queue measurement."""
        ...

    def record_node(
        self, site: str, desk: str, seen_at: datetime, online: bool | None, heartbeat: HeartbeatMessage | None
    ) -> None:
        """Update an edge node's health."""
        ...

    def add_alert(self, alert: AlertMessage) -> None:
        """Keep an alert raised or cleared by the hub."""
        ...

    def claim_alert(self, alert: AlertMessage) -> bool:
        """Record an alert's change of state unless it is in that state already; True when this call changed
        it (several workers: the one that claims a change raises or clears the alert, once)."""
        ...

    def claim_alerts(self, alerts: list[AlertMessage]) -> list[AlertMessage]:
        """:meth:`claim_alert` of each of these alerts; those whose change this call claimed, in their order."""
        ...

    def set_alert_state(self, alert: AlertMessage) -> None:
        """Record an alert's state, whatever it was (under the advisory lock of its device: a raised alert's
        count may change while it stays raised)."""
        ...

    def raised_alerts(
        self, alert: AlertType | None = None, devices: Collection[tuple[str, str]] | None = None
    ) -> list[AlertMessage]:
        """The alerts raised and not cleared yet (for a restarted worker's live board), or those of one type;
        of these (site, desk) devices only, when given."""
        ...

    def lock_keys(self, keys: list[int], slots: int = LOCK_SLOTS) -> None:
        """Hold these keys, folded onto ``slots`` locks, until the transaction ends, against other workers'
        transactions (PostgreSQL); the writes buffered so far are sent first."""
        ...

    def announce(self, changes: list[Any]) -> None:
        """Announce a transaction's live changes to every worker when it commits (PostgreSQL, hub/live_feed.py)."""
        ...

    def visits(self, site: str, day: str) -> list[Visit]:
        """The visits of a unit on a local day."""
        ...

    def visits_on(self, day: str) -> dict[str, list[Visit]]:
        """Every unit's visits on a local day, by unit id."""
        ...

    def ratings(self, site: str, day: str, desk: str | None = None) -> list[RatingFact]:
        """The ratings of a unit (or one desk) on a local day; ``RatingFact.counted`` says which count."""
        ...

    def latest_queue_samples(self, until: datetime | None = None) -> list[QueueSample]:
        """The latest queue sample of every desk (dated at most ``until`` when given)."""
        ...

    def nodes(self) -> list[NodeHealth]:
        """Health of every edge node heard from."""
        ...

    def alerts(self, site: str | None = None, limit: int = 200) -> list[AlertMessage]:
        """Recent alerts, newest first."""
        ...

    def rejected(self, limit: int = 100, preview_bytes: int = 2048) -> list[RejectedMessage]:
        """Recently rejected messages, newest first; each payload cut to ``preview_bytes``."""
        ...

    def clamp_node_times(self, horizon: datetime, now: datetime) -> int:
        """Set the last-seen time of nodes "seen" after ``horizon`` (a clock gone wrong) to ``now``; how many."""
        ...

    def prune_rejected(self, keep: int, before: datetime) -> int:
        """Delete rejected messages received before ``before`` and all but the newest ``keep``; return how many."""
        ...

    def seen_units(self) -> dict[str, set[str]]:
        """Every unit and desk that sent an accepted message."""
        ...

    def message_counts(self) -> dict[str, int]:
        """How many accepted messages of each kind are stored."""
        ...

    def add_line_event(self, message: LineMessage, day: str) -> None:
        """Keep a walk-out or a wait before the ticket."""
        ...

    def line_events(self, site: str, first_day: str, last_day: str | None = None) -> list[LineFact]:
        """Walk-outs and pre-ticket waits of a unit over local days (inclusive), oldest first."""
        ...

    def close(self) -> None:
        """Close connections (idempotent)."""
        ...

    def stream_losses(
        self, devices: list[tuple[str, str]] | None = None, *, open_only: bool = False
    ) -> list[StreamLoss]:
        """The numbered streams of these (site, desk) devices, or of every device (only those with messages
        missing: ``open_only``) (hub/loss.py)."""
        ...

    def save_stream_loss(self, loss: StreamLoss, updated_at: datetime) -> None:
        """Keep what the hub knows of a stream now (inside the batch's transaction)."""
        ...

    def note_session_progress(
        self, client_id: str, group: str, *, drained_to: float | None = None, probed_at: float | None = None
    ) -> None:
        """Keep, in a unit of work of its own, how far an MQTT session is drained and when it was last probed
        (POSIX seconds; hub/progress.py)."""
        ...

    def session_progress(self, group: str) -> list[tuple[float | None, float | None]]:
        """(drained_to, probed_at) of every session of a worker group (a few rows)."""
        ...

    def query(self, sql: str, args: Sequence[Any] = (), *, flush: bool = False) -> list[Any]:
        """Rows of a read in SQLite's dialect; with ``flush``, after the unit of work's buffered writes."""
        ...

    def write(self, sql: str, row: tuple[Any, ...]) -> None:
        """Buffer a write of the current unit of work (hub/rollups.py)."""
        ...


def open_store(url: str) -> Store:
    """Open the store a database URL names (``sqlite:///…`` or ``postgresql://…``, see ``hub.database``).

    Raises:
        ConfigError: the URL is not valid or names an engine not supported.
    """
    database = parse_database_url(url)
    if database.engine is Engine.POSTGRESQL:
        from hub.postgres_store import PostgresStore

        assert database.dsn is not None
        return PostgresStore(database.dsn)
    from hub.sqlite_store import SqliteStore

    assert database.path is not None
    return SqliteStore(database.path)
