"""Per-device accounts and TLS against a real Mosquitto: the right password connects and delivers, a wrong
one is refused and said plainly, TLS with the unit's CA works."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker
from edge.config import EdgeMqttSettings
from edge.mqtt_link import MqttLink


@pytest.fixture()
def secured(tmp_path: Path) -> MosquittoBroker:
    broker = MosquittoBroker(workdir=tmp_path / "broker", users={"bn-hcc-q01": "right-password"}, tls=True)
    broker.start()
    yield broker  # type: ignore[misc]
    broker.close()


def link(broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, password: str) -> MqttLink:
    monkeypatch.setenv("ONESTOP_EDGE_MQTT_PASSWORD", password)
    settings = EdgeMqttSettings(
        host=broker.host,
        port=broker.port,
        username="bn-hcc-q01",
        tls=True,
        tls_ca_file=broker.ca_file,
        reconnect_min_s=1,
        reconnect_max_s=2,
    )
    return MqttLink(settings, "bn-hcc", "q01")


def test_device_account_over_tls_connects(secured: MosquittoBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    device = link(secured, monkeypatch, "right-password")
    device.start()
    assert device.wait_connected(10) and device.last_error is None
    device.close()


def test_wrong_password_is_refused_and_said_plainly(secured: MosquittoBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    device = link(secured, monkeypatch, "wrong-password")
    device.start()
    deadline = time.monotonic() + 10
    while device.last_error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not device.connected
    assert device.last_error is not None and "refused" in device.last_error
    assert "Not authorized" in device.last_error or "Bad user name or password" in device.last_error
    device.close(announce_offline=False)
