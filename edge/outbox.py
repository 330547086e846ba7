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
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
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
"""


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    """A row of the spool."""

    seq: int
    topic: str
    payload: bytes
    retain: bool


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
        self._depth = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        self.dropped = 0

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
        cursor = self._conn.execute(
            f"DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE kind IN ({marks}) ORDER BY seq LIMIT ?)",
            (*sorted(DROPPABLE_KINDS), max(excess, 1)),
        )
        self._depth -= cursor.rowcount
        self.dropped += cursor.rowcount
        if cursor.rowcount == 0 and self._depth % 1000 == 1:
            logger.warning("outbox holds %d messages, all of kinds that are never dropped", self._depth)

    def after(self, seq: int, limit: int) -> list[SpooledMessage]:
        """The oldest ``limit`` messages after ``seq``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
        return [SpooledMessage(row[0], row[1], bytes(row[2]), bool(row[3])) for row in rows]

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
        for row in self.spool.after(self._cursor, room):
            info = self._client.publish(row.topic, row.payload, qos=1, retain=row.retain)
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                break
            self._in_flight[info.mid] = row.seq
            self._cursor = row.seq
            self.published += 1
        # Acks that arrived while publishing are settled now, so a mid reused by paho cannot collide.
        self._settle_acks()
