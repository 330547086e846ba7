"""systemd stops the desk agent with SIGTERM. When the agent serves HTTP (ticket API or touchscreen), uvicorn
catches the signal, shuts down and re-raises it; the agent must still close: a clean MQTT disconnect (no last
will), the spool closed (SQLite folds its write-ahead log back in and removes it), exit status 0.
A real `onestop-edge` process against a real Mosquitto."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker, free_port

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("serves_http", [True, False], ids=["ticket-api", "no-http"])
def test_sigterm_closes_the_agent_cleanly(own_broker: MosquittoBroker, tmp_path: Path, serves_http: bool) -> None:
    port = free_port()
    spool = tmp_path / "outbox.db"
    config = tmp_path / "edge.yaml"
    config.write_text(
        "site: bn-que-vo\ndesk: q03\nstaff: cb-031\n"
        f"mqtt: {{host: {own_broker.host}, port: {own_broker.port}}}\n"
        f"spool: {{path: {spool}}}\n" + (f"tickets: {{api: {{listen: '127.0.0.1:{port}'}}}}\n" if serves_http else "")
    )
    log = tmp_path / "edge.log"
    with open(log, "wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--config", str(config), "--log-level", "INFO"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not ready(serves_http, port, own_broker.log_path):
            assert agent.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the agent did not come up within 30 s\n{log.read_text()}"
            time.sleep(0.1)
        assert Path(f"{spool}-wal").exists(), "the spool is open in WAL mode while the agent runs"
        agent.send_signal(signal.SIGTERM)
        status = agent.wait(timeout=30)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    output = log.read_text()
    assert status == 0, output
    assert "desk agent stopped" in output
    assert not Path(f"{spool}-wal").exists(), "the spool was not closed"
    broker_log = own_broker.log_path.read_text()
    client = "onestop-edge-bn-que-vo-q03"
    assert f"Client {client} disconnected." in broker_log, broker_log[-2000:]  # a DISCONNECT packet
    assert f"Client {client} closed its connection" not in broker_log  # what a killed process leaves


def ready(serves_http: bool, port: int, broker_log: Path) -> bool:
    if not broker_log.exists() or "New client connected" not in broker_log.read_text():
        return False
    if not serves_http:
        return True
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
