"""The outbox: every message the agent produces is first made durable in a local SQLite spool, then
published at QoS 1 from there, and removed only when the broker acknowledged it.

- Durable: ``put`` returns after the row is committed with ``synchronous=FULL`` (fsync), so a power cut
  after a rating was accepted does not lose it.
- In order: rows are published in the order they were spooled; after a reconnect paho resends what was
  in flight, and after a restart the spool is replayed from its oldest row. A message may thus reach the
  broker twice; the hub's deduplication on the message ``id`` makes the record exactly-once.
- Bounded, with a stated policy: beyond ``max_messages`` the oldest queue samples and heartbeats are
  dropped (they are superseded by newer ones anyway); ticket events, ratings, comments and emotions are
  never dropped, whatever the bound.
- Numbered (docs/protocol.md, "Numbering and loss"): the first time a row is handed to the broker it gets
  the next number of the spool's stream, kept in the spool before it is published and reused on every
  resend, so numbers survive restarts and are never reused. A row the bound drops was never numbered (only
  unnumbered rows are dropped), so every gap the hub sees in the numbers is a message lost after it left
  the desk; what the bound dropped is counted apart (``spool_dropped`` of the heartbeat).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties

from protocol.messages import Envelope
from protocol.topics import MessageKind

logger = logging.getLogger(__name__)

DROPPABLE_KINDS = frozenset({MessageKind.QUEUE.value, MessageKind.HEARTBEAT.value})

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_by_kind ON outbox (kind, seq);
CREATE TABLE IF NOT EXISTS numbering (
    id INTEGER PRIMARY KEY CHECK (id = 1), stream TEXT NOT NULL, last INTEGER NOT NULL, dropped INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    """A row of the spool."""

    seq: int
    topic: str
    payload: bytes
    retain: bool
    number: int | None = None


class Spool:
    """The SQLite file behind the outbox. Thread-safe; every write is durable when it returns."""

    def __init__(self, path: Path, max_messages: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._max = max_messages
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        if "number" not in {row[1] for row in self._conn.execute("PRAGMA table_info(outbox)")}:
            self._conn.execute("ALTER TABLE outbox ADD COLUMN number INTEGER")  # a spool from before numbering
        # A new spool file starts a new stream: its numbers begin at 1 under an id never used before.
        self._conn.execute(
            "INSERT OR IGNORE INTO numbering (id, stream, last, dropped) VALUES (1, ?, 0, 0)", (uuid.uuid4().hex,)
        )
        self._depth = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self.stream, self._dropped = self._conn.execute("SELECT stream, dropped FROM numbering").fetchone()

    @property
    def dropped(self) -> int:
        """Messages the bound dropped unsent since this spool file was created."""
        return int(self._dropped)

    @property
    def depth(self) -> int:
        """Messages waiting."""
        return int(self._depth)

    def put(self, kind: str, topic: str, payload: bytes, retain: bool = False) -> int:
        """Append a message durably; return its sequence number."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.execute(
                    "INSERT INTO outbox (kind, topic, payload, retain) VALUES (?, ?, ?, ?)",
                    (kind, topic, payload, int(retain)),
                )
                self._depth += 1
                if self._depth > self._max:
                    self._drop_oldest_droppable()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._depth = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
                raise
            return int(cursor.lastrowid or 0)

    def _drop_oldest_droppable(self) -> None:
        excess = self._depth - self._max
        marks = ",".join("?" * len(DROPPABLE_KINDS))
        # Only rows never handed to the broker (no number yet): a numbered row may be on its way.
        cursor = self._conn.execute(
            f"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind IN ({marks}) AND number IS NULL "
            "ORDER BY seq LIMIT ?)",
            (*sorted(DROPPABLE_KINDS), max(excess, 1)),
        )
        self._depth -= cursor.rowcount
        if cursor.rowcount:
            self._conn.execute("UPDATE numbering SET dropped = dropped + ?", (cursor.rowcount,))
            self._dropped += cursor.rowcount
        if cursor.rowcount == 0 and self._depth % 1000 == 1:
            logger.warning("outbox holds %d messages, all of kinds that are never dropped", self._depth)

    def after(self, seq: int, limit: int) -> list[SpooledMessage]:
        """The oldest ``limit`` messages after ``seq``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload, retain, number FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [SpooledMessage(row[0], row[1], bytes(row[2]), bool(row[3]), row[4]) for row in rows]

    def number(self, seqs: list[int]) -> dict[int, int]:
        """Give these rows, in this order, the next numbers of the stream (durably); return them by row.

        A row the bound dropped meanwhile gets no number (it is left out), so no number is ever skipped."""
        if not seqs:
            return {}
        numbers: dict[int, int] = {}
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                last = int(self._conn.execute("SELECT last FROM numbering").fetchone()[0])
                for seq in seqs:
                    if self._conn.execute("UPDATE outbox SET number = ? WHERE seq = ?", (last + 1, seq)).rowcount:
                        last += 1
                        numbers[seq] = last
                self._conn.execute("UPDATE numbering SET last = ?", (last,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return numbers

    def remove(self, seqs: list[int]) -> None:
        """Forget acknowledged messages."""
        if not seqs:
            return
        with self._lock:
            cursor = self._conn.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])
            self._depth -= cursor.rowcount

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._conn.close()


class Outbox:
    """Spool first, then publish from the spool at QoS 1 over ``client``; delete on acknowledgement."""

    def __init__(self, spool: Spool, client: mqtt.Client, in_flight: int = 100) -> None:
        self.spool = spool
        self._client = client
        self._window = in_flight
        self._acks: queue.Queue[int] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_flight: dict[int, int] = {}
        self._cursor = 0
        self._thread: threading.Thread | None = None
        self.published = 0
        self.acknowledged = 0
        client.on_publish = self._handle_publish

    def put(self, message: Envelope, retain: bool = False) -> None:
        """Make a message durable in the spool; it is published as soon as the broker can be reached."""
        self.spool.put(message.kind.value, message.topic, message.to_payload(), retain)
        self._wake.set()

    @property
    def depth(self) -> int:
        """Messages not yet acknowledged by the broker."""
        return self.spool.depth

    def start(self) -> None:
        """Start publishing from the spool."""
        self._thread = threading.Thread(target=self._run, name="edge-outbox", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Something changed (a connection came up): look at the spool now."""
        self._wake.set()

    def close(self) -> None:
        """Stop publishing (unsent messages stay in the spool for next time); idempotent."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # paho's network thread: never block here, never touch the mid map (the publisher thread owns it).
    def _handle_publish(
        self, client: mqtt.Client, userdata: object, mid: int, reason_code: mqtt.ReasonCode, properties: Properties
    ) -> None:
        self._acks.put(mid)
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            try:
                self._settle_acks()
                if self._client.is_connected():
                    self._send_more()
            except sqlite3.Error:
                logger.exception("outbox spool error; retrying")
                self._stopping.wait(1.0)

    def _settle_acks(self) -> None:
        done: list[int] = []
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            seq = self._in_flight.pop(mid, None)
            if seq is not None:
                done.append(seq)
        if done:
            self.spool.remove(done)
            self.acknowledged += len(done)

    def _send_more(self) -> None:
        room = self._window - len(self._in_flight)
        if room <= 0:
            return
        rows = self.spool.after(self._cursor, room)
        numbers = self.spool.number([row.seq for row in rows if row.number is None])
        for row in rows:
            number = row.number or numbers.get(row.seq)
            if number is None:
                continue  # dropped by the bound since it was read: never sent, never numbered
            payload = numbered(row.payload, number, self.spool.stream)
            info = self._client.publish(row.topic, payload, qos=1, retain=row.retain)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                break
            self._in_flight[info.mid] = row.seq
            self._cursor = row.seq
            self.published += 1
        # Acks that arrived while publishing are settled now, so a mid reused by paho cannot collide.
        self._settle_acks()


def numbered(payload: bytes, number: int, stream: str) -> bytes:
    """The spooled JSON object with ``seq`` and ``stream`` added (the same bytes on every resend)."""
    body = payload.rstrip()
    if not body.endswith(b"}") or body == b"{}":
        raise ValueError("a spooled payload is a JSON object with fields")
    return body[:-1] + b',"seq":%d,"stream":"%s"}' % (number, stream.encode())
