"""What a committed batch changed on the live board, and how every hub worker learns it (several workers).

With several workers on one PostgreSQL record, each worker commits only its share of the messages (an MQTT 5
shared subscription), yet every worker's API, live stream and dashboard show the whole province. The
committing worker announces the changes of a batch with PostgreSQL ``NOTIFY`` inside the batch's own
transaction; every worker (itself included) ``LISTEN``s and applies them to its live board. So:

- a change reaches the boards only once it is committed, and the boards take changes in commit order (the
  order in which PostgreSQL delivers notifications), the order in which the record took them: a visit
  assembled by two workers in turn reaches every board as the second, whole one last;
- the board is the image of the record, with the hub's own verdicts (a rating counted or not, a visit
  assembled from every worker's events), not a second reading of the wire;
- a worker that starts, or whose listening connection was lost, rebuilds its board from the record in one
  snapshot and drops the notifications of the transactions that snapshot already holds (each notification
  carries its transaction's id; ``pg_visible_in_snapshot`` done here), so nothing is counted twice or missed.

A notification holds at most ~8,000 bytes: a batch's changes go in as many as they need. On SQLite (one
worker) the processor applies the same changes to its board directly, without a feed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.hall import Call
from hub.live import DeskKey, LiveBoard
from hub.store import QueueSample, record_time
from hub.visits import Transaction, TransactionEnd, Visit, VisitStatus
from protocol.messages import AlertMessage

logger = logging.getLogger(__name__)

CHANNEL = "onestop_live"
PAYLOAD_BYTES = 7800  # PostgreSQL's limit is 8,000 bytes, with the transaction id in front


@dataclass(frozen=True, slots=True)
class VisitChange:
    """A visit rebuilt from all of its ticket events."""

    site: str
    day: str
    visit: Visit


@dataclass(frozen=True, slots=True)
class RatingChange:
    """A rating with the hub's verdict."""

    site: str
    desk: str
    day: str
    score: int
    scale: int | None
    counted: bool


@dataclass(frozen=True, slots=True)
class LineChange:
    """A walk-out or a wait before the ticket."""

    site: str
    desk: str
    day: str
    event: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class NodeChange:
    """A heartbeat (``online`` None) or a status message of an edge node."""

    site: str
    desk: str
    ts: datetime
    online: bool | None


@dataclass(frozen=True, slots=True)
class ReloadChange:
    """A change too large for a notification: every board rebuilds itself from the record."""


Change = VisitChange | QueueSample | RatingChange | LineChange | NodeChange | AlertMessage | Call | ReloadChange


def apply_change(board: LiveBoard, change: Change) -> set[DeskKey]:
    """Apply one change to a live board; return the desks whose card changed (calls and reloads: none)."""
    if isinstance(change, VisitChange):
        return board.apply_visit(change.site, change.day, change.visit)
    if isinstance(change, QueueSample):
        return board.apply_queue(change)
    if isinstance(change, RatingChange):
        return board.apply_rating(change.site, change.desk, change.day, change.score, change.scale, change.counted)
    if isinstance(change, LineChange):
        return board.apply_line(change.site, change.desk, change.day, change.event, change.duration_s)
    if isinstance(change, NodeChange):
        return board.apply_node(change.site, change.desk, change.ts, change.online)
    if isinstance(change, AlertMessage):
        board.track_alert(change)
    return set()


# -- the wire form of a change (JSON, compact) ---------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _visit_json(visit: Visit) -> dict[str, Any]:
    return {
        "ticket": visit.ticket,
        "issued_at": _time(visit.issued_at),
        "issued_desk": visit.issued_desk,
        "service": visit.service,
        "priority": visit.priority,
        "status": visit.status.value,
        "waiting_since": _time(visit.waiting_since),
        "waiting_desk": visit.waiting_desk,
        "transactions": [
            [
                t.seq,
                t.desk,
                t.staff,
                t.service,
                _time(t.wait_started_at),
                _time(t.called_at),
                _time(t.ended_at),
                t.end.value if t.end else None,
            ]
            for t in visit.transactions
        ],
    }


def _visit(data: dict[str, Any]) -> Visit:
    transactions = []
    for seq, desk, staff, service, wait_started_at, called_at, ended_at, end in data["transactions"]:
        called = _parse_time(called_at)
        assert called is not None
        transactions.append(
            Transaction(
                seq,
                desk,
                staff,
                service,
                _parse_time(wait_started_at),
                called,
                _parse_time(ended_at),
                TransactionEnd(end) if end else None,
            )
        )
    return Visit(
        ticket=data["ticket"],
        issued_at=_parse_time(data["issued_at"]),
        issued_desk=data["issued_desk"],
        service=data["service"],
        priority=data["priority"],
        status=VisitStatus(data["status"]),
        transactions=tuple(transactions),
        waiting_since=_parse_time(data["waiting_since"]),
        waiting_desk=data["waiting_desk"],
    )


def encode_change(change: Change) -> list[Any]:
    """A change as a JSON-ready list, its kind first."""
    if isinstance(change, VisitChange):
        return ["visit", change.site, change.day, _visit_json(change.visit)]
    if isinstance(change, QueueSample):
        s = change
        return ["queue", s.site, s.desk, record_time(s.ts), s.length, s.est_wait_s, s.head_wait_s, s.source, s.present]
    if isinstance(change, RatingChange):
        return ["rating", change.site, change.desk, change.day, change.score, change.scale, change.counted]
    if isinstance(change, LineChange):
        return ["line", change.site, change.desk, change.day, change.event, change.duration_s]
    if isinstance(change, NodeChange):
        return ["node", change.site, change.desk, record_time(change.ts), change.online]
    if isinstance(change, AlertMessage):
        return ["alert", change.model_dump(mode="json", exclude_none=True)]
    if isinstance(change, Call):
        return ["call", change.site, change.desk, change.ticket, change.ts.isoformat(), change.recalled]
    return ["reload"]


def decode_change(data: list[Any]) -> Change:
    """The change a JSON list of :func:`encode_change` stands for."""
    kind, *rest = data
    if kind == "visit":
        return VisitChange(rest[0], rest[1], _visit(rest[2]))
    if kind == "queue":
        site, desk, ts, length, est_wait_s, head_wait_s, source, present = rest
        return QueueSample(site, desk, datetime.fromisoformat(ts), length, est_wait_s, head_wait_s, source, present)
    if kind == "rating":
        return RatingChange(*rest)
    if kind == "line":
        return LineChange(*rest)
    if kind == "node":
        return NodeChange(rest[0], rest[1], datetime.fromisoformat(rest[2]), rest[3])
    if kind == "alert":
        return AlertMessage.model_validate(rest[0])
    if kind == "call":
        return Call(rest[0], rest[1], rest[2], datetime.fromisoformat(rest[3]), rest[4])
    return ReloadChange()


def payloads(changes: list[Change], limit: int = PAYLOAD_BYTES) -> Iterator[str]:
    """The notification payloads that carry these changes, each at most ``limit`` bytes of UTF-8."""
    part: list[str] = []
    size = 2
    for change in changes:
        text = json.dumps(encode_change(change), ensure_ascii=False, separators=(",", ":"))
        length = len(text.encode()) + 1
        if length + 2 > limit:
            logger.warning("a live change of %d bytes is too large to announce; every board reloads", length)
            text, length = '["reload"]', 11
        if part and size + length > limit:
            yield "[" + ",".join(part) + "]"
            part, size = [], 2
        part.append(text)
        size += length
    if part:
        yield "[" + ",".join(part) + "]"


def read_payload(payload: str) -> tuple[int, list[Change]]:
    """The transaction id and the changes of one notification (``"<xid> [changes]"``)."""
    xid, _, body = payload.partition(" ")
    return int(xid), [decode_change(item) for item in json.loads(body)]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A PostgreSQL snapshot (``pg_current_snapshot()``): which transactions a read already saw."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> Snapshot:
        """Read ``xmin:xmax:xip,…``."""
        xmin, xmax, running = text.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def holds(self, xid: int) -> bool:
        """Whether the transaction ``xid`` had committed when the snapshot was taken (as
        ``pg_visible_in_snapshot``; an aborted transaction announces nothing)."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.running)


class LiveFeed:
    """A thread that listens to the record's announcements and applies them to this worker's board.

    ``connect`` opens a listening connection (autocommit); ``resync`` rebuilds the board from the record
    in one snapshot and returns that snapshot's text; ``apply`` takes the changes of one transaction.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        resync: Callable[[], str],
        apply: Callable[[list[Change]], None],
    ) -> None:
        self._connect = connect
        self._resync = resync
        self._apply = apply
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self.resyncs = 0
        self.applied = 0
        self._thread = threading.Thread(target=self._run, name="hub-live-feed", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Listen, rebuild the board, and go on in the background; returns once the board is rebuilt."""
        self._thread.start()
        if not self.ready.wait(timeout):
            logger.error("the live board was not rebuilt from the record within %.0f s; going on", timeout)

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            conn = None
            try:
                conn = self._connect()
                conn.execute(f"LISTEN {CHANNEL}")
                snapshot = Snapshot.parse(self._resync())  # after LISTEN: nothing falls between the two
                self.resyncs += 1
                self.ready.set()
                delay = 0.5
                self._follow(conn, snapshot)
            except Exception:
                if self._stopping.is_set():
                    break
                logger.exception("the live feed from the record failed; listening again in %.1f s", delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                if conn is not None:
                    conn.close()

    def _follow(self, conn: Any, snapshot: Snapshot) -> None:
        while not self._stopping.is_set():
            for note in conn.notifies(timeout=0.5):
                xid, changes = read_payload(note.payload)
                if snapshot.holds(xid):
                    continue  # the rebuilt board already has it
                if any(isinstance(c, ReloadChange) for c in changes):
                    raise RuntimeError("a change too large to announce: rebuilding the board from the record")
                self._apply(changes)
                self.applied += 1
