"""``onestop-hub serve --database postgresql://…``: the command a province's operator runs, on a real Mosquitto
and a real PostgreSQL; what it ingests is in the shared record and on its API, and survives a restart."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devtools.mosquitto import MosquittoBroker, free_port
from devtools.postgres import PostgresServer
from protocol.messages import TicketEvent, TicketMessage
from tests.support.hub_server import Publisher

SITE = "bn-tu-son"


def serve(broker: MosquittoBroker, database: str, port: int, workdir: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "hub.cli", "serve", "--broker", broker.address, "--database", database,
               "--listen", f"127.0.0.1:{port}", "--client-id", "hub-pg-serve"]  # fmt: skip
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def poll(hub: subprocess.Popen[str], port: int, path: str, ready: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 60
    while True:
        assert hub.poll() is None, f"onestop-hub serve exited: {hub.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, f"no answer from {path} within 60 s"
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).json()
            if ready(answer):
                return answer
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def stop(hub: subprocess.Popen[str]) -> str:
    hub.send_signal(signal.SIGTERM)
    return hub.communicate(timeout=30)[0]


def test_serve_keeps_the_record_in_postgresql(
    broker: MosquittoBroker, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = postgres_server.create_database()
    port = free_port()
    issued = datetime.now(UTC) - timedelta(minutes=3)
    tickets = [
        TicketMessage(ts=issued + timedelta(seconds=n), site=SITE, desk="q03", event=TicketEvent.ISSUED, ticket=t)
        for n, t in enumerate(("0101", "0102"))
    ]
    hub = serve(broker, database, port, tmp_path)
    try:
        poll(hub, port, "/api/v1/health", lambda health: health["mqtt_connected"])
        with Publisher(broker) as publisher:
            publisher.send([*tickets, tickets[0]])  # one sent twice
        health = poll(hub, port, "/api/v1/health", lambda h: h["ingest"]["accepted"] + h["ingest"]["duplicates"] >= 3)
        assert (health["ingest"]["accepted"], health["ingest"]["duplicates"]) == (2, 1)
        # The dashboard's hourly chart reads the same record (its own connection): both tickets, once each.
        hours = httpx.get(f"http://127.0.0.1:{port}/api/v1/sites/{SITE}/hours", timeout=10)
        assert hours.status_code == 200, hours.text
        assert sum(hour["issued"] for hour in hours.json()["hours"]) == 2
    finally:
        output = stop(hub)
    assert "Application shutdown complete" in output, output[-3000:]
    hub = serve(broker, database, port, tmp_path)  # a restarted worker rebuilds the live board from PostgreSQL
    try:
        live = poll(hub, port, f"/api/v1/sites/{SITE}/live", lambda answer: bool(answer.get("desks")))
        desk = next(d for d in live["desks"] if d["desk"] == "q03")
        assert [t["ticket"] for t in desk["waiting_tickets"]] == ["0101", "0102"]
    finally:
        stop(hub)
    assert not (tmp_path / "var").exists()  # nothing of the record was written beside the worker
