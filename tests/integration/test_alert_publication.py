"""An alert's publication on the broker's alert topic survives the worker that raised it: a hub worker on
PostgreSQL commits an alert and is killed (SIGKILL) before it does anything else; another worker, started after,
publishes it on ``onestop/v1/{site}/{desk}/alert`` once, with the payload the record keeps (hub.notify.service:
the publication is a delivery of the outbox, queued in the alert's transaction)."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devtools.mosquitto import MosquittoBroker
from hub.config import DEFAULT_CONFIG_PATH, load_settings
from hub.runtime import HubRuntime
from protocol.messages import TicketEvent, TicketMessage
from tests.integration.test_workers_failover import Worker, record  # noqa: F401 -- a fixture
from tests.support.waiting import wait_for

SITE, DESK = "bn-luc-ngan", "q03"
DYING_HUB = Path(__file__).resolve().parents[1] / "support" / "dying_hub.py"


class Subscriber:
    """Every payload published on one topic, as received (QoS 1)."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="alert-watch")
        self.client.on_message = lambda client, userdata, message: self.payloads.append(json.loads(message.payload))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_an_alert_committed_by_a_worker_killed_before_publishing_it_is_published_by_another(
    own_broker: MosquittoBroker,
    record: tuple[str, Any],  # noqa: F811 -- the fixture imported above
    tmp_path: Path,
) -> None:
    url, query = record
    config = tmp_path / "hub.yaml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8") + "\nmqtt:\n  shared_group: hubs\n")
    options = ["serve", "--config", str(config), "--broker", own_broker.address, "--log-level", "WARNING"]
    dying = Worker("hub-a", [sys.executable, str(DYING_HUB), *options], url, tmp_path)
    living = Worker("hub-b", [sys.executable, "-m", "hub.cli", *options], url, tmp_path)
    watch = Subscriber(own_broker, f"onestop/v1/{SITE}/{DESK}/alert")
    device = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="desk-q03")
    try:
        dying.launch().ready()
        late = TicketMessage(
            ts=datetime.now(UTC) - timedelta(minutes=20), site=SITE, desk=DESK, event=TicketEvent.ISSUED, ticket="9001"
        )  # waiting 20 minutes: past the 15-minute target, the worker's next evaluation raises the alert
        device.connect(own_broker.host, own_broker.port)
        device.loop_start()
        device.publish(late.topic, late.to_payload(), qos=1).wait_for_publish(10)
        assert dying.process is not None
        wait_for(lambda: dying.process.poll() is not None, 60, "the worker killed right after committing the alert")
        assert dying.process.returncode == -signal.SIGKILL
        raised = query(f"SELECT id, payload FROM alerts WHERE site = '{SITE}' AND desk = '{DESK}'")
        kept = {alert_id: json.loads(payload) for alert_id, payload in raised}
        assert "wait_target_broken" in {alert["alert"] for alert in kept.values()}
        assert watch.payloads == []  # the worker died before publishing it

        living.launch().ready()
        wait_for(
            lambda: len(watch.payloads) == len(kept), 60, "the alerts on the broker, published by the living worker"
        )
        wait_for(
            lambda: query("SELECT status FROM notify_outbox WHERE channel = 'mqtt'") == [("sent",)] * len(kept),
            30,
            "the publications marked sent after the broker's PUBACK",
        )
        # Each once, with the payload the record keeps: its id lets a consumer drop a repeat (at least once).
        assert sorted(watch.payloads, key=lambda alert: alert["id"]) == [kept[key] for key in sorted(kept)]
        assert {alert["state"] for alert in watch.payloads} == {"raised"}
    finally:
        device.loop_stop()
        watch.close()
        for worker in (dying, living):
            worker.stop()


def test_an_alert_the_broker_refuses_to_take_is_not_marked_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker whose ACL does not let the hub's account write the alert topic answers the publication with a
    PUBACK that says "Not authorized" (MQTT 5). The publication stays to be retried, with the reason kept, and
    is never marked sent: a consumer of the alert topic got nothing."""
    acl = tmp_path / "acl"
    acl.write_text("user hub\ntopic read onestop/v1/#\n\nuser desk\ntopic write onestop/v1/#\n")
    monkeypatch.setenv("TEST_ALERT_HUB_PW", "hub-secret")
    with MosquittoBroker(workdir=tmp_path / "broker", users={"hub": "hub-secret", "desk": "desk-secret"},
                         extra=f"acl_file {acl}\n") as broker:  # fmt: skip
        settings = load_settings().with_overrides(
            mqtt={"host": broker.host, "port": broker.port, "client_id": "hub", "username": "hub",
                  "password_env": "TEST_ALERT_HUB_PW"},
            database=f"sqlite:///{tmp_path / 'hub.db'}",
            live={"tick_s": 0.2},
        )  # fmt: skip
        runtime = HubRuntime(settings)
        runtime.start()
        desk = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="desk")
        try:
            wait_for(lambda: runtime.ingest.connected, 20, "the hub subscribed")
            late = TicketMessage(
                ts=datetime.now(UTC) - timedelta(minutes=20), site=SITE, desk=DESK, event=TicketEvent.ISSUED,
                ticket="9002",
            )  # fmt: skip
            desk.username_pw_set("desk", "desk-secret")
            desk.connect(broker.host, broker.port)
            desk.loop_start()
            desk.publish(late.topic, late.to_payload(), qos=1).wait_for_publish(10)

            def publications() -> list[tuple[str, int, str | None]]:
                sql = "SELECT status, attempts, last_error FROM notify_outbox WHERE channel = 'mqtt'"
                rows = runtime.store.query(sql)
                return [(status, attempts, error) for status, attempts, error in rows]

            tried = wait_for(lambda: [p for p in publications() if p[1] >= 1], 30, "a publication tried")
            assert all(status != "sent" for status, _, _ in publications())
            assert all(error and "refused" in error for _, _, error in tried)
        finally:
            desk.loop_stop()
            runtime.close()
