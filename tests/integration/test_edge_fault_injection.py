"""Fault injection with a real Mosquitto, a real hub and the desk agent: the broker stops during a burst,
the agent is killed with SIGKILL in the middle of one, the hub restarts. Each time every ticket event and
rating that the agent accepted is in the hub's record exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools.mosquitto import MosquittoBroker, free_port
from edge.agent import DeskAgent
from edge.config import EdgeSettings
from protocol.messages import Envelope, RatingMessage, TicketEvent, TicketMessage, new_message_id
from tests.support.hub_server import HubServer
from tests.support.waiting import wait_for

SITE, DESK = "bn-tien-du", "q01"


def burst(count: int) -> Iterator[Envelope]:
    """Ticket events and ratings as a busy desk produces them."""
    for i in range(count):
        ticket = f"{i // 3:04d}"
        if i % 3 == 0:
            yield TicketMessage(site=SITE, desk=DESK, event=TicketEvent.CALLED, ticket=ticket, staff="cb-1")
        elif i % 3 == 1:
            yield TicketMessage(site=SITE, desk=DESK, event=TicketEvent.FINISHED, ticket=ticket, staff="cb-1")
        else:
            yield RatingMessage(site=SITE, desk=DESK, score=4, ticket=ticket, channel="button")


def record_ids(database: Path) -> list[str]:
    """Ids of this desk's ticket events and ratings in the hub's record, in the order they were stored."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT id FROM messages WHERE site = ? AND desk = ? AND kind IN ('ticket', 'rating') ORDER BY rowid",
                (SITE, DESK),
            )
        ]


@pytest.fixture()
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n    [fault injection] {line}", end="")

    return say


def edge_settings(broker: MosquittoBroker, tmp_path: Path, **extra: object) -> EdgeSettings:
    return EdgeSettings.model_validate(
        {
            "site": SITE,
            "desk": DESK,
            "staff": "cb-1",
            "mqtt": {"host": broker.host, "port": broker.port, "reconnect_min_s": 1, "reconnect_max_s": 2},
            "spool": {"path": str(tmp_path / "outbox.db")},
            **extra,
        }
    )


def test_broker_stopped_during_a_burst(
    own_broker: MosquittoBroker, tmp_path: Path, report: Callable[[str], None]
) -> None:
    database = tmp_path / "hub.db"
    with HubServer(own_broker, database, client_id="hub-broker-fault") as hub:
        agent = DeskAgent(edge_settings(own_broker, tmp_path))
        agent.start()
        assert agent.link.wait_connected(10)
        sent: list[str] = []
        for i, message in enumerate(burst(600)):
            agent.emit(message)
            sent.append(message.id)
            if i == 200:
                own_broker.stop()
            if i == 400:
                time.sleep(1.0)  # a while with the broker down
                own_broker.start()
            time.sleep(0.002)
        wait_for(lambda: set(sent) <= set(record_ids(database)), 60, "every message in the record")
        stored = record_ids(database)
        counts = hub.counts()
        agent.close()
    assert len(stored) == len(set(stored)) == len(sent)
    assert stored == sent, "ticket events and ratings reached the record out of order"
    report(f"broker outage: sent {len(sent)}, stored {len(stored)}, duplicates suppressed {counts['duplicates']}")


def test_agent_killed_in_the_middle_of_a_burst(
    own_broker: MosquittoBroker, tmp_path: Path, report: Callable[[str], None]
) -> None:
    broker = own_broker  # its retained status messages must not reach other tests' hubs
    database = tmp_path / "hub.db"
    port = free_port()
    config = tmp_path / "node.yaml"
    config.write_text(
        f"site: {SITE}\ndesk: {DESK}\nstaff: cb-1\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}, reconnect_min_s: 1, reconnect_max_s: 2}}\n"
        f"spool: {{path: {tmp_path / 'outbox.db'}}}\n"
        f"tickets: {{api: {{listen: '127.0.0.1:{port}'}}}}\n"
    )
    env = {**os.environ, "ONESTOP_EDGE_TICKET_TOKEN": "s3cret"}
    headers = {"Authorization": "Bearer s3cret"}

    def start_agent() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/v1/health"), 20, "the agent's HTTP API")
        return process

    accepted: list[str] = []
    attempted: list[str] = []
    retried = 0

    def queue_number_system(http: httpx.Client) -> None:
        """Posts 900 events as fast as it can; like a real one it retries with the same id until accepted."""
        nonlocal retried
        for i in range(900):
            body = {"event": "called" if i % 2 == 0 else "finished", "ticket": f"{i // 2:04d}", "id": new_message_id()}
            attempted.append(body["id"])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    response = http.post(f"http://127.0.0.1:{port}/api/v1/tickets", json=body, headers=headers)
                    if response.status_code == 202:
                        accepted.append(body["id"])
                        break
                except httpx.HTTPError:
                    pass
                retried += 1
                time.sleep(0.05)

    with HubServer(broker, database, client_id="hub-agent-kill") as hub, httpx.Client(timeout=5) as http:
        agent = start_agent()
        sender = threading.Thread(target=queue_number_system, args=(http,))
        sender.start()
        wait_for(lambda: len(accepted) >= 300, 30, "300 accepted events")
        os.kill(agent.pid, signal.SIGKILL)  # power cut in the middle of the burst, requests in flight
        agent.wait()
        agent = start_agent()
        sender.join(timeout=120)
        unauthorised = http.post(f"http://127.0.0.1:{port}/api/v1/tickets", json={"event": "issued", "ticket": "1"})
        assert unauthorised.status_code == 401
        wait_for(lambda: set(accepted) <= set(record_ids(database)), 60, "every accepted message in the record")
        stored = record_ids(database)
        counts = hub.counts()
        agent.terminate()
        agent.wait(timeout=20)
    assert len(accepted) == len(attempted) == 900
    assert len(stored) == len(set(stored))
    assert set(stored) <= set(attempted)
    assert len(stored) == len(accepted)
    report(
        f"agent SIGKILL: sent {len(attempted)} ({retried} retries while it was down), stored {len(stored)}, "
        f"duplicates suppressed {counts['duplicates']}"
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_hub_restarted_during_a_burst(
    own_broker: MosquittoBroker, tmp_path: Path, report: Callable[[str], None]
) -> None:
    broker = own_broker
    database = tmp_path / "hub.db"
    agent = DeskAgent(edge_settings(broker, tmp_path))
    agent.start()
    assert agent.link.wait_connected(10)
    sent: list[str] = []
    duplicates = 0
    hub = HubServer(broker, database, client_id="hub-restart-fault").start()
    for i, message in enumerate(burst(600)):
        agent.emit(message)
        sent.append(message.id)
        if i == 250:
            duplicates += hub.counts()["duplicates"]
            hub.stop()  # upgrade: the broker keeps the hub's session meanwhile
        if i == 450:
            hub = HubServer(broker, database, client_id="hub-restart-fault").start()
        time.sleep(0.002)
    wait_for(lambda: set(sent) <= set(record_ids(database)), 60, "every message in the record")
    stored = record_ids(database)
    duplicates += hub.counts()["duplicates"]
    hub.stop()
    agent.close()
    assert len(stored) == len(set(stored)) == len(sent)
    report(f"hub restart: sent {len(sent)}, stored {len(stored)}, duplicates suppressed {duplicates}")
