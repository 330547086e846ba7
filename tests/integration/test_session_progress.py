"""Loss with several workers, through a real Mosquitto and PostgreSQL (hub/progress.py, docs/scaling.md "Loss
with several workers"): a worker's probe comes back through its session's queue after everything queued before
it; two workers draining a backlog at different speeds raise no false ``messages_missing``; a number that never
came is still reported, with its count and device, once both sessions are drained past it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from devtools.mosquitto import MosquittoBroker
from devtools.postgres import PostgresServer
from edge.outbox import numbered
from hub.config import load_settings
from hub.processor import BatchOutcome, Incoming
from hub.progress import probe_payload, probe_sent, probe_topic
from hub.runtime import HubRuntime
from protocol.messages import QueueMessage, QueueSource
from tests.support.require import require_module
from tests.support.waiting import wait_for

SITE = "bn-hcc"
GRACE_S = 1.0  # ingest.missing_grace_s in these tests
SLOW_MESSAGE_S = 0.03  # the slow worker's extra time per message, whatever its batches (its inbox holds 10)


class Session:
    """A bare MQTT 5 client with a persistent session, keeping what it receives in order; ``on_connect`` runs
    on the CONNACK (the broker has given it its session back)."""

    def __init__(
        self,
        broker: MosquittoBroker,
        client_id: str,
        receive_maximum: int = 1000,
        expiry_s: int = 3600,
        on_connect: Callable[[mqtt.Client], object] = lambda client: None,
    ) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = lambda client, userdata, message: self.received.append(
            (message.topic, bytes(message.payload))
        )
        connected = threading.Event()

        def connect(client: mqtt.Client, *args: object) -> None:
            on_connect(client)
            connected.set()

        self.client.on_connect = connect
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = expiry_s
        properties.ReceiveMaximum = receive_maximum
        self.client.connect(broker.host, broker.port, clean_start=False, properties=properties)
        self.client.loop_start()
        assert connected.wait(10), f"{client_id} connected"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_probe_comes_back_after_everything_its_session_queued_before_it(broker: MosquittoBroker) -> None:
    """Mosquitto keeps one queue per session, shared by its subscriptions, delivered in order: a probe on the
    session's own topic comes back after every message of its shared subscription queued before it."""
    hub = Session(broker, "progress-fifo")
    subscribed = threading.Event()
    hub.client.on_subscribe = lambda *args: subscribed.set()
    hub.client.subscribe(
        [
            ("$share/progress-fifo/onestop/v1/#", SubscribeOptions(qos=1)),
            (probe_topic("progress-fifo"), SubscribeOptions(qos=1)),
        ]
    )
    assert subscribed.wait(10)
    hub.close()  # offline: the broker queues its share in the session

    topic = f"onestop/v1/{SITE}/q01/queue"
    publish(
        broker,
        [(topic, str(n).encode()) for n in range(300)]
        + [(probe_topic("progress-fifo"), probe_payload(1.0))]  # a probe from elsewhere, while it is offline
        + [(topic, str(n).encode()) for n in range(300, 350)],
    )

    # Back with a small window (20 in flight): the queue moves into flight in order. Its own probe, sent as soon
    # as the broker has given it its session back, comes after all of it.
    again = Session(
        broker,
        "progress-fifo",
        receive_maximum=20,
        expiry_s=0,  # gone when this test ends
        on_connect=lambda client: client.publish(probe_topic("progress-fifo"), probe_payload(2.0), qos=1),
    )
    try:
        wait_for(lambda: len(again.received) >= 352, 30, "the queued messages and both probes")
    finally:
        again.close()
    order = [probe_sent(p) if t.startswith("onestop-hub/probe/") else int(p) for t, p in again.received]
    assert order == [*range(300), 1.0, *range(300, 350), 2.0]


# -- two hub workers on one record and one broker ------------------------------------------------------------


def sample(desk: str, seq: int) -> tuple[str, bytes]:
    message = QueueMessage(
        id=f"{desk}-{seq}", ts=datetime.now(UTC), site=SITE, desk=desk, length=1, source=QueueSource.CAMERA
    )
    return message.topic, numbered(message.to_payload(), seq, f"s-{desk}")


class Workers:
    """Two ``HubRuntime`` workers (as ``onestop-hub serve`` runs them) on a shared subscription; the second one
    drains slowly (each message takes ``SLOW_MESSAGE_S`` more, its inbox holds 10 messages)."""

    def __init__(self, broker: MosquittoBroker, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.url = url

        def worker(client_id: str) -> HubRuntime:
            settings = load_settings().with_overrides(
                mqtt={"host": broker.host, "port": broker.port, "client_id": client_id, "shared_group": "hubs"},
                database=url,
                ingest={"missing_grace_s": GRACE_S, "queue_messages": 10},
                live={"tick_s": 0.2},
            )
            return HubRuntime(settings)

        self.fast, self.slow = worker("hub-fast"), worker("hub-slow")
        process = self.slow.processor.process

        def slowly(batch: list[Incoming], now: datetime) -> BatchOutcome:
            time.sleep(SLOW_MESSAGE_S * len(batch))
            return process(batch, now)

        monkeypatch.setattr(self.slow.processor, "process", slowly)
        for runtime in (self.fast, self.slow):
            runtime.start()
        wait_for(lambda: self.fast.ingest.connected and self.slow.ingest.connected, 20, "both workers subscribed")

    def query(self, sql: str) -> list[Any]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    def missing_alerts(self) -> list[tuple[str, str, int]]:
        return [
            (row[0], row[1], int(row[2]))
            for row in self.query(
                "SELECT desk, payload::json->>'state', payload::json->>'count' FROM alerts "
                "WHERE payload::json->>'alert' = 'messages_missing' ORDER BY ts"
            )
        ]

    def close(self) -> None:
        for runtime in (self.fast, self.slow):
            runtime.close()


@pytest.fixture()
def workers(
    own_broker: MosquittoBroker, postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workers]:
    require_module("psycopg", "psycopg", "./scripts/setup.sh installs the hub extra")
    pair = Workers(own_broker, postgres_server.create_database(), tmp_path, monkeypatch)
    try:
        yield pair
    finally:
        pair.close()


def publish(broker: MosquittoBroker, messages: list[tuple[str, bytes]]) -> None:
    desk = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="progress-desks")
    desk.connect(broker.host, broker.port)
    desk.loop_start()
    try:
        for info in [desk.publish(topic, payload, qos=1) for topic, payload in messages]:
            info.wait_for_publish(timeout=10)
    finally:
        desk.disconnect()
        desk.loop_stop()


def test_two_workers_draining_at_different_speeds_raise_no_false_messages_missing(
    workers: Workers, own_broker: MosquittoBroker
) -> None:
    """The broker deals a desk's 200 numbers to the two workers in turn; the fast one commits its half at once,
    the slow one needs seconds for the other half: the gaps stay open for longer than the grace, and are no loss."""
    publish(own_broker, [sample("q01", n) for n in range(1, 201)])
    gaps: list[float] = []

    def all_committed() -> bool:
        rows = workers.query("SELECT highest, missing FROM seq_streams WHERE desk = 'q01'")
        if rows and rows[0][1] > 0:
            gaps.append(time.monotonic())
        return rows == [(200, 0)]

    wait_for(all_committed, 60, "every number committed")
    assert workers.query("SELECT COUNT(*) FROM messages WHERE desk = 'q01' AND kind = 'queue'") == [(200,)]
    assert gaps and gaps[-1] - gaps[0] > 2 * GRACE_S  # the gaps outlived the grace (the slow worker's backlog)
    alerts = workers.missing_alerts()
    print(f"\n[progress] gaps open {gaps[-1] - gaps[0]:.1f} s (grace {GRACE_S:g} s); messages_missing kept: {alerts}")
    assert alerts == []


def test_a_number_that_never_came_is_reported_once_both_sessions_are_drained(
    workers: Workers, own_broker: MosquittoBroker
) -> None:
    publish(own_broker, [sample("q02", n) for n in range(1, 201) if n != 120])  # 120 never sent

    def reported() -> bool:
        committed = workers.query("SELECT COUNT(*) FROM messages WHERE desk = 'q02' AND kind = 'queue'") == [(199,)]
        return committed and bool(workers.missing_alerts())

    wait_for(reported, 60, "every message committed and the loss reported")
    assert workers.missing_alerts() == [("q02", "raised", 1)]
    assert workers.query("SELECT highest, missing, gaps::json->0->>0 FROM seq_streams") == [(200, 1, "120")]


def test_a_loss_is_still_reported_when_the_broker_refuses_the_probes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker whose ACL predates the probe topic: Mosquitto grants the subscription but refuses the probe
    (PUBACK "Not authorized"), so no probe ever comes back. The worker stops probing and the session, probed
    once and never drained, holds the gap back for three graces at most: the loss is reported, not never."""
    acl = tmp_path / "acl"
    acl.write_text(
        "user hub\ntopic read onestop/v1/#\ntopic write onestop/v1/+/+/alert\n\nuser desk\ntopic write onestop/v1/#\n"
    )
    monkeypatch.setenv("TEST_PROGRESS_HUB_PW", "hub-secret")
    with MosquittoBroker(workdir=tmp_path / "broker", users={"hub": "hub-secret", "desk": "desk-secret"},
                         extra=f"acl_file {acl}\n") as broker:  # fmt: skip
        settings = load_settings().with_overrides(
            mqtt={"host": broker.host, "port": broker.port, "client_id": "hub", "shared_group": "hubs",
                  "username": "hub", "password_env": "TEST_PROGRESS_HUB_PW"},
            database=f"sqlite:///{tmp_path / 'hub.db'}",
            ingest={"missing_grace_s": 0.5},
            live={"tick_s": 0.1},
        )  # fmt: skip
        runtime = HubRuntime(settings)
        runtime.start()
        try:
            wait_for(lambda: runtime.ingest.connected, 20, "the worker subscribed")
            desk = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="desk")
            desk.username_pw_set("desk", "desk-secret")
            desk.connect(broker.host, broker.port)
            desk.loop_start()
            try:
                for info in [desk.publish(*sample("q03", n), qos=1) for n in (1, 2, 4)]:  # 3 never sent
                    info.wait_for_publish(timeout=10)
            finally:
                desk.disconnect()
                desk.loop_stop()

            def reported() -> list[tuple[str, int | None]]:
                return [(a.desk, a.count) for a in runtime.store.raised_alerts() if a.alert.value == "messages_missing"]

            assert wait_for(reported, 30, "the loss reported") == [("q03", 1)]
            [(drained, probed)] = runtime.store.session_progress("hubs")
            assert drained is None and probed is not None  # no probe came back: probed once, then no more
        finally:
            runtime.close()
