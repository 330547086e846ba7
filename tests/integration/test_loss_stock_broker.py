"""Loss you can see, end to end: a Mosquitto with its stock limits (at most 1,000 messages queued per
session) drops what a desk sends while the hub is away; when the hub comes back it reports exactly how many
messages of that desk are missing, raises ``messages_missing`` with the count once the gap has stayed open
past ``ingest.missing_grace_s`` (1 s here; the hub's periodic tick raises it), and still knows after a
restart. The desk is the real edge outbox and MQTT link; the expected count is the test's own: what it
sent minus what the hub's record holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from devtools.mosquitto import MosquittoBroker
from edge.config import EdgeMqttSettings
from edge.mqtt_link import MqttLink
from edge.outbox import Outbox, Spool
from hub.config import load_settings
from protocol.messages import QueueMessage, QueueSource
from tests.support.hub_server import HubServer
from tests.support.waiting import wait_for

SITE, DESK, QUIET_DESK = "bn-tien-du", "q01", "q02"
SENT_WHILE_AWAY = 3000
SETTINGS = load_settings().with_overrides(ingest={"max_age_days": 36500, "missing_grace_s": 1})


def recorded(database: Path, desk: str) -> set[str]:
    """Ids of the desk's queue samples in the hub's record."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT id FROM messages WHERE site = ? AND desk = ? AND kind = 'queue'", (SITE, desk)
        ).fetchall()
    return {row[0] for row in rows}


class Desk:
    """A desk's outbox and MQTT link, as the agent wires them."""

    def __init__(self, broker: MosquittoBroker, workdir: Path, desk: str) -> None:
        self.desk = desk
        self.link = MqttLink(EdgeMqttSettings(host=broker.host, port=broker.port), SITE, desk)
        self.spool = Spool(workdir / f"outbox-{desk}.db", max_messages=100_000)
        self.outbox = Outbox(self.spool, self.link.client, in_flight=100)
        self.link.start()
        assert self.link.wait_connected(10)
        self.outbox.start()
        self.sent: list[str] = []

    def send(self, count: int) -> None:
        for _ in range(count):
            message = QueueMessage(site=SITE, desk=self.desk, length=len(self.sent) % 9, source=QueueSource.CAMERA)
            self.outbox.put(message)
            self.sent.append(message.id)

    def wait_acknowledged(self) -> None:
        wait_for(lambda: self.outbox.depth == 0, 120, f"the broker to acknowledge all of {self.desk}'s messages")

    def close(self) -> None:
        self.outbox.close()
        self.link.close()
        self.spool.close()


@pytest.fixture()
def stock_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    with MosquittoBroker(workdir=tmp_path / "broker", stock_limits=True) as running:
        yield running


def test_a_stock_broker_drops_and_the_hub_says_how_many_of_which_desk(
    stock_broker: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "hub.db"
    with HubServer(stock_broker, database, client_id="hub-loss", settings=SETTINGS):
        pass  # the hub's persistent session and subscription now exist; the hub goes away
    busy = Desk(stock_broker, tmp_path, DESK)
    quiet = Desk(stock_broker, tmp_path, QUIET_DESK)
    try:
        quiet.send(5)  # queued first: the broker keeps these
        quiet.wait_acknowledged()
        busy.send(SENT_WHILE_AWAY)
        busy.wait_acknowledged()
        with HubServer(stock_broker, database, client_id="hub-loss", settings=SETTINGS) as hub:
            # What the broker dropped last shows when the desk's next message arrives (a heartbeat in real life).
            busy.send(1)
            quiet.send(1)
            wait_for(lambda: busy.sent[-1] in recorded(database, DESK), 120, "the busy desk's last message")
            wait_for(lambda: quiet.sent[-1] in recorded(database, QUIET_DESK), 60, "the quiet desk's last message")
            stored = recorded(database, DESK)
            expected = len(busy.sent) - len(stored)
            assert stored <= set(busy.sent) and recorded(database, QUIET_DESK) == set(quiet.sent)
            assert expected > 0, "the stock broker should have dropped messages"
            assert "dropped" in (stock_broker.log_path.read_text()), "Mosquitto did not say it dropped messages"

            loss = {(d["site"], d["desk"]): d["missing"] for d in hub.get("/api/v1/loss")}
            assert loss == {(SITE, DESK): expected, (SITE, QUIET_DESK): 0}
            assert hub.get("/api/v1/health")["messages_missing"] == expected

            def missing_alerts() -> list[dict[str, Any]]:
                return [a for a in hub.get("/api/v1/alerts", active="true") if a["alert"] == "messages_missing"]

            active = wait_for(missing_alerts, 60, "the messages_missing alert, once the grace has passed")
            assert [(a["desk"], a["count"]) for a in active] == [(DESK, expected)]
            assert f"thiếu {expected} tin nhắn" in active[0]["message"]
        # A restart forgets nothing.
        with HubServer(stock_broker, database, client_id="hub-loss", settings=SETTINGS) as hub:
            loss = {(d["site"], d["desk"]): d["missing"] for d in hub.get("/api/v1/loss")}
            assert loss == {(SITE, DESK): expected, (SITE, QUIET_DESK): 0}
            active = [a for a in hub.get("/api/v1/alerts", active="true") if a["alert"] == "messages_missing"]
            assert [(a["desk"], a["count"]) for a in active] == [(DESK, expected)]
    finally:
        busy.close()
        quiet.close()
    with capsys.disabled():
        print(f"\n    [stock broker] sent {len(busy.sent)}, recorded {len(stored)}, missing {expected}", end="")
