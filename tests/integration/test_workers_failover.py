"""Failover of several hub workers: three ``onestop-hub serve`` processes on one PostgreSQL record and one
Mosquitto (an MQTT 5 shared subscription) under a burst of ticket events; one is killed with SIGKILL mid-burst,
another restarted (SIGTERM, then started again). Nothing is lost, nothing is kept twice, the alert the burst
provokes is raised once, and a surviving worker's API shows the whole province live.

What Mosquitto 2.0 does with the killed worker's share (measured here, printed, see docs/scaling.md "Several
workers"): the messages in flight to it and those the broker routes to its persistent session while it is
down stay in that session until a worker with the same client id connects again; the killed worker is then
restarted with its client id, as its systemd unit does."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devtools.mosquitto import MosquittoBroker, free_port
from devtools.postgres import PostgresServer
from hub.config import DEFAULT_CONFIG_PATH, load_settings
from protocol.messages import Envelope, TicketEvent, TicketMessage
from tests.integration.test_broker_provision import DEVICE, HUB, SECOND_HUB, Province, connected
from tests.integration.test_broker_provision import province as shipped_broker  # noqa: F401 -- a fixture
from tests.support.hub_server import HubServer
from tests.support.require import require_module
from tests.support.waiting import wait_for

SITES = ("bn-gia-binh", "bn-tien-du", "bn-yen-phong", "bn-tu-son", "bn-viet-yen", "bn-bac-giang")
TICKETS = 120  # three events each: 360 messages in the burst
ALERT_SITE, ALERT_DESK = "bn-luc-ngan", "q03"


class Worker:
    """One ``onestop-hub serve`` process with a fixed client id (its persistent session at the broker)."""

    def __init__(self, name: str, command: list[str], record: str, workdir: Path) -> None:
        self.name = name
        self.port = free_port()
        database = f"{record}?local={workdir / f'{name}-local.db'}"  # each worker's own audit log and outbox
        self._command = [*command, "--database", database, "--client-id", name, "--listen", f"127.0.0.1:{self.port}"]
        self._workdir = workdir
        self._log = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> Worker:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(self._command, cwd=self._workdir, stdout=log, stderr=subprocess.STDOUT)
        return self

    def ready(self) -> Worker:
        wait_for(self._connected, 60, f"{self.name} subscribed")
        return self

    def _connected(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self._log.read_text()[-3000:]
        try:
            return bool(self.get("/api/v1/health")["mqtt_connected"])
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> Any:
        response = httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)
        response.raise_for_status()
        return response.json()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Burst(threading.Thread):
    """Publishes messages at QoS 1 in small steps; keeps the ids the broker acknowledged."""

    def __init__(self, broker: MosquittoBroker, messages: list[Envelope], client_id: str = "failover-desks") -> None:
        super().__init__(daemon=True)
        self.messages = messages
        self.sent = 0
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish_all(self) -> int:
        self.run()
        self.close()
        return self.sent

    def run(self) -> None:
        for start in range(0, len(self.messages), 30):
            chunk = self.messages[start : start + 30]
            infos = [self.client.publish(m.topic, m.to_payload(), qos=1) for m in chunk]
            for info in infos:
                info.wait_for_publish(timeout=10)
            self.sent += len(chunk)
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class AlertWatch:
    """Every alert the workers publish on the broker for the provoked desk."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.seen: list[tuple[str, str]] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="failover-alerts")
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"onestop/v1/{ALERT_SITE}/{ALERT_DESK}/alert", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        alert = json.loads(message.payload)
        self.seen.append((alert["alert"], alert["state"]))

    def broken(self) -> list[str]:
        return [state for kind, state in self.seen if kind == "wait_target_broken"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def adoption_time(logs: Path, peer: str, since: datetime) -> float:
    """Seconds from ``since`` (local time) to the first worker's log line saying it took ``peer``'s session over."""
    times = [
        datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for log in logs.glob("hub-*.log")
        for line in log.read_text().splitlines()
        if f"hub worker {peer} is gone" in line
    ]
    return min((t - since).total_seconds() for t in times if t >= since)


def the_burst(now: datetime, tickets: int = TICKETS) -> list[Envelope]:
    """Tickets issued 10 minutes ago, called 4 minutes later, served 5 minutes; a ticket still waiting at every
    unit's first desk; and, first, a ticket waiting for 20 minutes (past the 15-minute target)."""
    late = TicketMessage(
        ts=now - timedelta(minutes=20), site=ALERT_SITE, desk=ALERT_DESK, event=TicketEvent.ISSUED, ticket="9001"
    )
    messages: list[Envelope] = [late]
    issued = now - timedelta(minutes=10)
    for n in range(tickets):
        number = n if tickets == TICKETS else 1000 + n  # a later burst: other tickets
        site, desk, ticket = SITES[n % len(SITES)], f"q0{1 + n // len(SITES) % 3}", f"{number:04d}"
        for event, minutes in ((TicketEvent.ISSUED, 0), (TicketEvent.CALLED, 4), (TicketEvent.FINISHED, 9)):
            staff = None if event is TicketEvent.ISSUED else f"cb-{desk}"
            messages.append(
                TicketMessage(ts=issued + timedelta(minutes=minutes, seconds=n % 50), site=site, desk=desk,
                              event=event, ticket=ticket, staff=staff)
            )  # fmt: skip
    for site in SITES:
        messages.append(
            TicketMessage(ts=now - timedelta(minutes=1), site=site, desk="q01", event=TicketEvent.ISSUED, ticket="8001")
        )
    return messages


@pytest.fixture()
def record(postgres_server: PostgresServer) -> Iterator[tuple[str, Any]]:
    psycopg = require_module("psycopg", "psycopg", "./scripts/setup.sh installs the hub extra")
    url = postgres_server.create_database()
    yield url, lambda sql: psycopg.connect(url, autocommit=True).execute(sql).fetchall()


def test_a_worker_killed_mid_burst_and_another_restarted_lose_nothing_and_count_nothing_twice(
    own_broker: MosquittoBroker, record: tuple[str, Any], tmp_path: Path
) -> None:
    url, query = record
    config = tmp_path / "hub.yaml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8") + "\nmqtt:\n  shared_group: hubs\n")
    command = [sys.executable, "-m", "hub.cli", "serve", "--config", str(config), "--broker", own_broker.address,
               "--log-level", "WARNING"]  # fmt: skip
    a, b, c = (Worker(f"hub-{n}", command, url, tmp_path) for n in "abc")
    watch = AlertWatch(own_broker)
    messages = the_burst(datetime.now(UTC))
    burst = Burst(own_broker, messages)
    try:
        for worker in (a, b, c):
            worker.launch()
        for worker in (a, b, c):
            worker.ready()
        burst.start()
        wait_for(lambda: burst.sent >= len(messages) // 3, 60, "a third of the burst published")
        b.kill()
        killed_at, killed_wall, sent_at_kill = time.monotonic(), datetime.now(), burst.sent
        killed_epoch = time.time()
        wait_for(lambda: burst.sent >= 2 * len(messages) // 3, 60, "two thirds of the burst published")
        c.stop()
        c.launch().ready()
        burst.join(timeout=60)
        assert burst.sent == len(messages)
        published = time.monotonic()

        def recorded() -> int:
            return int(query("SELECT COUNT(*) FROM messages WHERE kind = 'ticket'")[0][0])

        # The killed worker's share (in flight when it died, and its turn since) is in its session at the broker:
        # a living worker takes the session over (hub/adoption.py) without the killed one being restarted.
        wait_for(lambda: recorded() == len(messages), 60, "every message recorded, the killed worker still down")
        done = time.monotonic()
        adopted = adoption_time(tmp_path, "hub-b", killed_wall)

        # Its adopter probes the killed worker's session too (hub/progress.py): drained past the kill, its progress
        # holds no gap back for ever.
        def drained_since_the_kill() -> bool:
            [(drained, probed)] = query("SELECT drained_to, probed_at FROM hub_workers WHERE client_id = 'hub-b'")
            return drained is not None and probed is not None and drained > killed_epoch

        wait_for(drained_since_the_kill, 30, "the killed worker's session probed and drained by its adopter")
        print(
            f"\n[failover] {len(messages)} messages, a worker killed after {sent_at_kill}: its session taken over "
            f"{adopted:.1f} s after the kill; every message recorded {done - killed_at:.1f} s after the kill, "
            f"{done - published:.1f} s after the last was published"
        )

        # The killed worker back with its client id: the broker gives it its session, the adopter hands it over,
        # and it takes its turn of what follows.
        b.launch().ready()
        later = the_burst(datetime.now(UTC), tickets=30)[1 : -len(SITES)]
        assert Burst(own_broker, later, "failover-desks-later").publish_all() == len(later)
        wait_for(lambda: recorded() == len(messages) + len(later), 30, "the later messages recorded")
        assert b.get("/api/v1/health")["mqtt_connected"] and b.get("/api/v1/health")["ingest"]["batches"] > 0
        messages += later

        # Lost 0: every message published is in the record, under its own key; kept twice 0.
        kept = {(site, desk, message_id) for site, desk, message_id in query(
            "SELECT site, desk, id FROM messages WHERE kind = 'ticket'")}  # fmt: skip
        assert kept == {(m.site, m.desk, m.id) for m in messages}
        assert query("SELECT COUNT(*) FROM ticket_events")[0][0] == len(messages)
        visits = query("SELECT status, wait_s FROM visits WHERE ticket < '8000' ORDER BY ticket")
        assert visits == [("done", 240.0)] * (TICKETS + 30)  # called 4 minutes after issue, every one assembled whole

        # The provoked alert: raised once in the record and on the broker, by whichever worker claimed it.
        rows = query(
            "SELECT payload::json->>'state' FROM alerts "
            f"WHERE site = '{ALERT_SITE}' AND desk = '{ALERT_DESK}' AND payload::json->>'alert' = 'wait_target_broken'"
        )
        assert rows == [("raised",)]
        wait_for(watch.broken, 10, "the alert on the broker")
        assert watch.broken() == ["raised"]

        # A surviving worker shows the whole province live: every unit's desks, whoever committed them.
        for site in SITES:
            desks = {d["desk"]: d for d in a.get(f"/api/v1/sites/{site}/live")["desks"]}
            assert [t["ticket"] for t in desks["q01"]["waiting_tickets"]] == ["8001"]
            assert {desks[d]["mean_service_s"] for d in ("q01", "q02", "q03")} == {300.0}
        late = {d["desk"]: d for d in a.get(f"/api/v1/sites/{ALERT_SITE}/live")["desks"]}[ALERT_DESK]
        assert late["state"] == "broken" and [t["ticket"] for t in late["waiting_tickets"]] == ["9001"]
        active = [x for x in a.get(f"/api/v1/alerts?site={ALERT_SITE}") if x["desk"] == ALERT_DESK]
        assert [x["alert"] for x in active if x["alert"] == "wait_target_broken"] == ["wait_target_broken"]
    finally:
        burst.close()
        watch.close()
        for worker in (a, b, c):
            worker.stop()


def test_a_worker_takes_a_stopped_peers_session_over_with_the_peers_account(
    shipped_broker: Province,  # noqa: F811 -- the fixture imported above
    postgres_server: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The shipped broker: per-account client ids (use_username_as_clientid), so the adopter must log in as its peer.
    record = postgres_server.create_database()
    monkeypatch.setenv("TEST_PW_A", shipped_broker.passwords[HUB])
    monkeypatch.setenv("TEST_PW_B", shipped_broker.passwords[SECOND_HUB])
    monkeypatch.setenv("TEST_PW_A_ONESTOP_HUB_2", shipped_broker.passwords[SECOND_HUB])  # the peer's password
    base = load_settings().with_overrides(mqtt={"shared_group": "hubs"})

    def worker(account: str, password_env: str) -> HubServer:
        settings = base.with_overrides(mqtt={"username": account, "password_env": password_env})
        return HubServer(
            shipped_broker.broker, f"{record}?local={tmp_path / account}.db", client_id=account, settings=settings
        )

    issued = datetime.now(UTC) - timedelta(minutes=2)
    tickets = [
        TicketMessage(ts=issued + timedelta(seconds=n), site="bn-kinh-bac", desk="q01", event=TicketEvent.ISSUED,
                      ticket=f"{700 + n:04d}")
        for n in range(20)
    ]  # fmt: skip
    with worker(HUB, "TEST_PW_A") as first:
        worker(SECOND_HUB, "TEST_PW_B").start().stop()  # joined the group, then went: its session stays
        device = connected(shipped_broker, DEVICE, tls=False)
        try:
            for message in tickets:  # half of them go to the absent worker's session
                device.publish(message.topic, message.to_payload())
        finally:
            device.close()

        def waiting() -> list[str]:
            desks = first.get("/api/v1/sites/bn-kinh-bac/live")["desks"]
            return [t["ticket"] for d in desks if d["desk"] == "q01" for t in d["waiting_tickets"]]

        wait_for(lambda: waiting() == [t.ticket for t in tickets], 30, "every ticket, the absent worker's share too")
