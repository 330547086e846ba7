"""systemd stops the hub with SIGTERM (and a person with Ctrl-C). A real `onestop-hub serve` process, a real
Mosquitto, an SQLite record: stopped in the middle of a burst, with a dashboard's live stream open, the hub exits
with status 0 (not -15, which systemd shows as a failure) within the unit's TimeoutStopSec, sends the broker a
DISCONNECT, and loses nothing: what it had not committed the broker gives to the restarted hub, and
the record ends with every message exactly once."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker, free_port
from protocol.messages import QueueMessage, QueueSource
from tests.support.hub_server import Publisher
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

CLIENT = "hub-sigterm"
CHUNK = 100
MAX_BURST = 30_000


def serve(broker: MosquittoBroker, database: Path, port: int, workdir: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hub.cli", "serve", "--broker", broker.address, "--client-id", CLIENT,
               "--database", f"sqlite:///{database}", "--listen", f"127.0.0.1:{port}"]  # fmt: skip
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def health(port: int) -> dict | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()
    except httpx.HTTPError:
        return None


def recorded(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE kind = 'queue'").fetchone()[0])


def burst(start: datetime, first: int, count: int) -> list[QueueMessage]:
    # Queue samples of a morning at desk q03, half a second apart, each a distinct message.
    return [
        QueueMessage(
            ts=start + timedelta(seconds=n / 2), site="bn-tu-son", desk="q03", length=n % 9, source=QueueSource.CAMERA
        )
        for n in range(first, first + count)
    ]


def send_until(desks: Publisher, start: datetime, stop: threading.Event, sent: list[int]) -> None:
    """Publish chunks of the burst until told to stop (at most MAX_BURST): the hub's stop then falls in the
    middle of it however fast the machine is (a fixed burst was all recorded before the stop on a quiet one)."""
    while not stop.is_set() and sent[0] < MAX_BURST:
        sent[0] += desks.send(burst(start, sent[0], CHUNK))


def test_sigterm_mid_burst_exits_0_and_loses_nothing(own_broker: MosquittoBroker, tmp_path: Path) -> None:
    database, port = tmp_path / "hub.db", free_port()
    hub = serve(own_broker, database, port, tmp_path)
    stream = None
    try:
        wait_for(lambda: hub.poll() is not None or bool((health(port) or {}).get("mqtt_connected")), 60, "hub up")
        assert hub.poll() is None, hub.communicate()[0][-3000:]
        # A dashboard's live stream, left open as on a wall screen: it must not hold the shutdown up.
        stream = socket.create_connection(("127.0.0.1", port), timeout=10)
        stream.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\n\r\n")
        assert stream.recv(200).startswith(b"HTTP/1.1 200")
        start, stop, sent = datetime.now(UTC) - timedelta(hours=5), threading.Event(), [0]
        with Publisher(own_broker, "desk-burst") as desks:
            sender = threading.Thread(target=send_until, args=(desks, start, stop, sent))
            sender.start()
            wait_for(lambda: (health(port) or {}).get("ingest", {}).get("accepted", 0) > 0, 60, "the first batch")
            stopped_at = time.monotonic()
            hub.send_signal(signal.SIGTERM)
            output = hub.communicate(timeout=30)[0]
            took = time.monotonic() - stopped_at
            stop.set()
            sender.join(timeout=60)
            sent[0] += desks.send(burst(start, sent[0], CHUNK))  # and some while it is down, for certain
    finally:
        if stream is not None:
            stream.close()
        if hub.poll() is None:
            hub.kill()
            hub.communicate()
    total = sent[0]
    assert hub.returncode == 0, output[-3000:]
    assert took < 25, f"the hub took {took:.1f} s to stop (systemd kills it at TimeoutStopSec=30)"
    assert "Application shutdown complete" in output and "hub stopped" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    # The hub sent its DISCONNECT (paho calls back once it is written). Mid-burst the broker may not read it: the
    # hub's socket closes with the broker's unread publishes in it, so the kernel resets the connection and
    # Mosquitto logs the drop first. The idle stop below shows the DISCONNECT reaching the broker.
    assert "hub disconnected from the MQTT broker (Normal disconnection)" in output, output[-3000:]
    first = recorded(database)
    assert 0 < first < total, f"the stop was meant to fall mid-burst; {first} of {total} were recorded"

    # The restarted hub (same client id, so the same persistent session) gets the rest from the broker.
    clean_before = own_broker.log_path.read_text().count(f"Client {CLIENT} disconnected.")
    hub = serve(own_broker, database, port, tmp_path)
    try:
        wait_for(lambda: hub.poll() is not None or recorded(database) >= total, 60, "the rest of the burst")
        assert hub.poll() is None, hub.communicate()[0][-3000:]
    finally:
        hub.send_signal(signal.SIGINT)  # Ctrl-C: also a clean stop
        output = hub.communicate(timeout=30)[0]
    assert hub.returncode == 0, output[-3000:]
    assert "KeyboardInterrupt" not in output and "Traceback" not in output, output[-3000:]
    assert recorded(database) == total
    broker_log = own_broker.log_path.read_text()
    assert broker_log.count(f"Client {CLIENT} disconnected.") == clean_before + 1, broker_log[-2000:]
