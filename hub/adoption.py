"""A dead worker's share taken over by a living one (several workers on a shared subscription, PostgreSQL).

Mosquitto keeps a shared-subscription member with a persistent session in the group while it is down: it
goes on routing that member's turn of the messages to its session, and hands them (with those in flight when
it died) only to a client that connects with the same client id (docs/scaling.md, "Several workers"). So a
living worker connects with the dead worker's client id and drains its session, until the dead worker is back.

Who is alive is what PostgreSQL knows: each worker holds a session advisory lock named after its client id on
a connection of its own for as long as it runs (a killed process drops the connection at once; a machine that
is off is noticed after the TCP keep-alive set below). Every worker registers its client id in
``hub_workers``; every few seconds each tries the locks of the others: whoever gets one holds it (no second
worker adopts the same session) and connects a second ingest with that client id. When the worker comes back
it registers again (a new start time in ``hub_workers``) and connects with its own id; the adopter sees the new
start time (or the broker's "session taken over"), stops, lets the lock go, and leaves that worker alone for a
while. (Mosquitto 2.0 closes the adopter's connection without saying why, so the record says it.)
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

logger = logging.getLogger(__name__)

CHECK_S = 2.0  # how often a worker looks for a peer whose lock is free
OWN_LOCK_RETRY_S = 0.5  # a worker back from the dead takes its own lock again quickly; a handed-off one stops
YIELD_COOLDOWN_S = 30.0  # an adopter that was handed off leaves that peer alone this long
STARTING_GRACE_S = 10.0  # a peer registered this recently is starting: its lock may still be its adopter's


def _starting(started_at: str) -> bool:
    """Whether a peer registered (started) less than ``STARTING_GRACE_S`` ago."""
    return (datetime.now(UTC) - datetime.fromisoformat(started_at)).total_seconds() < STARTING_GRACE_S


class AdoptedIngest(Protocol):
    """What the adoption needs of an ingest connected with a peer's client id."""

    def start(self) -> None:
        """Connect and go on in the background."""

    def stop(self) -> None:
        """Finish the batch in hand and disconnect."""


def worker_lock_key(group: str, client_id: str) -> int:
    """The 63-bit advisory lock a worker holds while it runs."""
    digest = hashlib.blake2b(f"w\x1f{group}\x1f{client_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class Adoption:
    """A thread that keeps this worker's lock and adopts the sessions of peers that do not hold theirs.

    ``connect`` opens an autocommit PostgreSQL connection; ``adopt(client_id, handed_off)`` builds an ingest
    connected with that client id that calls ``handed_off`` when the broker gives the session back to its
    owner.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        group: str,
        client_id: str,
        adopt: Callable[[str, Callable[[], None]], AdoptedIngest],
        check_s: float = CHECK_S,
    ) -> None:
        self._connect = connect
        self._group = group
        self._client_id = client_id
        self._adopt = adopt
        self._check_s = check_s
        self._stopping = threading.Event()
        self._handed_off: set[str] = set()
        self._handed_lock = threading.Lock()
        self.adopted: dict[str, AdoptedIngest] = {}
        self._started: dict[str, str] = {}  # each adopted peer's start time when it was adopted
        self._cooldown: dict[str, float] = {}
        self._first: tuple[Any, bool] | None = None  # the connection start() took this worker's lock on
        self._thread = threading.Thread(target=self._run, name="hub-adoption", daemon=True)

    def start(self) -> None:
        """Take this worker's own lock, then register it (a worker back from the dead claims its session back
        so), and start looking after the others. The lock comes first: a peer that reads this worker in
        ``hub_workers`` finds its lock held, and never takes a worker that is starting for a dead one."""
        conn = self._open()
        try:
            own = self._try_lock(conn, self._client_id)  # held by an adopter when this worker comes back
            self._register(conn)
        except BaseException:
            conn.close()
            raise
        self._first = (conn, own)
        self._thread.start()

    def close(self) -> None:
        """Stop every adopted ingest and let the locks go (idempotent)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=40)

    def _open(self) -> Any:
        conn = self._connect()
        # A machine that is off is noticed by the server in about 10 + 3 x 5 s, its locks then freed.
        for setting in ("tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5", "tcp_keepalives_count = 3"):
            conn.execute(f"SET {setting}")
        return conn

    def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            conn = None
            try:
                first, self._first = self._first, None
                conn, own = first if first is not None else (self._open(), False)
                self._watch(conn, own)
                delay = 1.0
            except Exception:
                if self._stopping.is_set():
                    break
                logger.exception("watching the other hub workers failed; trying again in %.0f s", delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            finally:
                self._release_all()  # without the connection the locks are gone: so must the adopted sessions be
                if conn is not None:
                    conn.close()

    def _register(self, conn: Any) -> None:
        conn.execute(
            "INSERT INTO hub_workers (client_id, shared_group, started_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (client_id) DO UPDATE SET shared_group = EXCLUDED.shared_group, "
            "started_at = EXCLUDED.started_at",
            (self._client_id, self._group, datetime.now(UTC).isoformat()),
        )

    def _try_lock(self, conn: Any, client_id: str) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (worker_lock_key(self._group, client_id),)).fetchone()
        return bool(row[0])

    def _watch(self, conn: Any, own: bool) -> None:
        next_check = 0.0
        while not self._stopping.is_set():
            if not own:
                own = self._try_lock(conn, self._client_id)
            if self.adopted:
                self._notice_returns(conn)
            self._drop_handed_off(conn)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self._check_s
                peers = conn.execute(
                    "SELECT client_id FROM hub_workers WHERE shared_group = %s AND client_id <> %s ORDER BY client_id",
                    (self._group, self._client_id),
                ).fetchall()
                for (peer,) in peers:
                    if peer in self.adopted or self._cooldown.get(peer, 0.0) > time.monotonic():
                        continue
                    started = conn.execute("SELECT started_at FROM hub_workers WHERE client_id = %s", (peer,))
                    if _starting(started.fetchone()[0]):
                        continue  # back a moment ago: its lock may be on its way from its adopter
                    started = conn.execute("SELECT started_at FROM hub_workers WHERE client_id = %s", (peer,))
                    if self._try_lock(conn, peer):
                        self._started[peer] = started.fetchone()[0]
                        logger.warning("hub worker %s is gone: taking over its MQTT session until it is back", peer)
                        ingest = self._adopt(peer, functools.partial(self._on_handed_off, peer))
                        self.adopted[peer] = ingest
                        ingest.start()
            self._stopping.wait(OWN_LOCK_RETRY_S)

    def _notice_returns(self, conn: Any) -> None:
        rows = conn.execute(
            "SELECT client_id, started_at FROM hub_workers WHERE client_id = ANY(%s)", (list(self.adopted),)
        ).fetchall()
        for peer, started in rows:
            if started != self._started.get(peer):
                self._on_handed_off(peer)

    def _on_handed_off(self, peer: str) -> None:
        with self._handed_lock:
            self._handed_off.add(peer)

    def _drop_handed_off(self, conn: Any) -> None:
        with self._handed_lock:
            handed, self._handed_off = self._handed_off, set()
        for peer in handed:
            ingest = self.adopted.pop(peer, None)
            if ingest is None:
                continue
            logger.warning("hub worker %s is back: its MQTT session is its own again", peer)
            ingest.stop()
            conn.execute("SELECT pg_advisory_unlock(%s)", (worker_lock_key(self._group, peer),))
            self._cooldown[peer] = time.monotonic() + YIELD_COOLDOWN_S

    def _release_all(self) -> None:
        for ingest in self.adopted.values():
            ingest.stop()
        self.adopted.clear()
