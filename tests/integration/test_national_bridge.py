"""A national view through Mosquitto's own bridges: two province brokers, each with its own hub, bridged to a
national broker with its own hub, all real. The bridge configuration and the national broker's accounts and
ACL are what ``onestop-hub bridge-config`` writes; the province brokers run its snippet unchanged, over TLS.

A scripted morning of tickets and ratings per province, figures computed by hand: the national hub's figures
for each province equal each province hub's own and the literals, although the national broker is stopped
mid-morning and started again (the bridges queue and deliver what it missed), and although one province
forges a message for the other's unit (the national ACL drops it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from devtools.mosquitto import MosquittoBroker, free_port, make_certificates
from hub.cli import main as hub_cli
from hub.provision import DEVICE_KINDS
from protocol.messages import RatingMessage, TicketEvent
from tests.support.hub_server import HubServer, Publisher
from tests.support.national import DAY, national_broker_config, settings_of_provinces, visit


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"{DAY}T{clock}+07:00")


def rating(site: str, ticket: str, clock: str, score: int) -> RatingMessage:
    return RatingMessage(
        id=f"{site}-{ticket}-r", ts=at(clock), site=site, desk="q01", score=score, ticket=ticket, channel="button"
    )


DONE, NO_SHOW = TicketEvent.FINISHED, TicketEvent.NO_SHOW
# Bắc Ninh (24): Kinh Bắc waits 300 s and 840 s, one no-show; Từ Sơn waits 600 s. Ratings 4, 2, 3 (satisfied ≥ 3).
BN_EARLY = (
    visit("bn-kinh-bac", "A1", "08:00:00", "08:05:00", "08:15:00", DONE)
    + visit("bn-tu-son", "B1", "08:00:00", "08:10:00", "08:20:00", DONE)
    + [rating("bn-kinh-bac", "A1", "08:16:00", 4)]
)
BN_LATE = (
    visit("bn-kinh-bac", "A2", "08:01:00", "08:15:00", "08:25:00", DONE)
    + visit("bn-kinh-bac", "A3", "08:03:00", "08:25:00", "08:27:00", NO_SHOW)
    + [rating("bn-kinh-bac", "A2", "08:26:00", 2), rating("bn-tu-son", "B1", "08:21:00", 3)]
)
# Quảng Ninh (22): Hạ Long waits 1,200 s and 1,680 s. Ratings 1 and 4.
QN_EARLY = visit("qn-ha-long", "C1", "08:00:00", "08:20:00", "08:30:00", DONE) + [
    rating("qn-ha-long", "C1", "08:31:00", 1)
]
QN_LATE = visit("qn-ha-long", "C2", "08:02:00", "08:30:00", "08:40:00", DONE) + [
    rating("qn-ha-long", "C2", "08:41:00", 4)
]
# By hand: counts, and the mean over every served transaction's wait in the province.
EXPECTED = {
    24: {
        "visits": 3,
        "transactions": 3,
        "no_shows": 1,
        "waiting": 0,
        "ratings": 3,
        "satisfied": 2,
        "satisfaction_share": 2 / 3,
        "mean_transaction_wait_s": (300 + 840 + 600) / 3,
    },
    22: {
        "visits": 2,
        "transactions": 2,
        "no_shows": 0,
        "waiting": 0,
        "ratings": 2,
        "satisfied": 1,
        "satisfaction_share": 1 / 2,
        "mean_transaction_wait_s": (1200 + 1680) / 2,
    },
}
EXPECTED_UNITS = {
    "bn-kinh-bac": {"visits": 2, "transactions": 2, "no_shows": 1, "ratings": 2, "satisfied": 1},
    "bn-tu-son": {"visits": 1, "transactions": 1, "no_shows": 0, "ratings": 1, "satisfied": 1},
    "qn-ha-long": {"visits": 2, "transactions": 2, "no_shows": 0, "ratings": 2, "satisfied": 1},
    "qn-cam-pha": {"visits": 0, "transactions": 0, "no_shows": 0, "ratings": 0, "satisfied": 0},
}
# Quảng Ninh's broker carries a message for a Bắc Ninh unit: its bridge does not forward it, and the national
# ACL would refuse it.
FORGED = visit("bn-kinh-bac", "X9", "08:04:00", "08:06:00", "08:07:00", DONE)[:1]


class BridgeState:
    """The bridge's state as the province broker publishes it (notifications_local_only): "1" up, "0" down."""

    def __init__(self, broker: MosquittoBroker, account: str) -> None:
        self.value: str | None = None
        self.changed = threading.Condition()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"watch-{account}")
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"$SYS/broker/connection/{account}/state", qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.value = message.payload.decode()
            self.changed.notify_all()

    def becomes(self, value: str, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.value == value, timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def figures(province: dict[str, Any]) -> dict[str, Any]:
    return {key: province[key] for key in EXPECTED[province["code"]]}


@pytest.fixture()
def country(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    bac_ninh, quang_ninh, national = settings_of_provinces()
    config_file = tmp_path / "national.yaml"
    config_file.write_text(yaml.safe_dump(national.model_dump(mode="json"), allow_unicode=True))
    (tmp_path / "certs").mkdir()
    certificates = make_certificates(tmp_path / "certs")
    ca = certificates[0]
    bridge_port, hub_port = free_port(), free_port()
    out = tmp_path / "accounts"
    assert (
        hub_cli(
            [
                "bridge-config",
                "--config",
                str(config_file),
                "--out",
                str(out),
                "--national",
                f"127.0.0.1:{bridge_port}",
                "--national-ca",
                str(ca),
            ]
        )
        == 0
    )
    password = (out / "hub" / "onestop-hub.env").read_text().strip().split("=", 1)[1]
    monkeypatch.setenv(national.mqtt.password_env, password)
    workdir = tmp_path / "national-broker"
    workdir.mkdir()
    central = MosquittoBroker(
        port=hub_port,
        workdir=workdir,
        config=national_broker_config(workdir, hub_port, bridge_port, out / "national", certificates),
    )
    brokers = {
        code: MosquittoBroker(
            workdir=tmp_path / f"broker-{code}",
            extra=(out / "provinces" / f"{code:02d}" / "onestop-bridge.conf").read_text(),
        )
        for code in (24, 22)
    }
    started: list[Any] = []
    try:
        started.append(central.start())
        for broker in brokers.values():
            started.append(broker.start())
        hubs = {
            "national": HubServer(central, tmp_path / "national.db", "onestop-hub", national),
            24: HubServer(brokers[24], tmp_path / "p24.db", "hub-24", bac_ninh),
            22: HubServer(brokers[22], tmp_path / "p22.db", "hub-22", quang_ninh),
        }
        for hub in hubs.values():
            started.append(hub.start())
        yield {"central": central, "brokers": brokers, "hubs": hubs, "out": out}
    finally:
        for thing in reversed(started):
            thing.stop()
        for broker in (central, *brokers.values()):
            broker.close()


def test_national_hub_sees_each_province_as_its_own_hub_does(country: dict[str, Any]) -> None:
    hubs, brokers, central = country["hubs"], country["brokers"], country["central"]
    early = {24: BN_EARLY, 22: QN_EARLY}
    late = {24: BN_LATE, 22: FORGED + QN_LATE}
    for code, messages in early.items():
        with Publisher(brokers[code], f"desks-{code}") as desks:
            desks.send(messages)
    national_early = len(BN_EARLY) + len(QN_EARLY)
    hubs["national"].wait_until(lambda c: c["accepted"] >= national_early, timeout=60)

    bridge_state = BridgeState(brokers[24], "bridge-p24")
    assert bridge_state.becomes("1"), "the province broker does not show its bridge connected"
    central.stop()  # mid-morning: the national broker goes away; the desks keep sending to their province
    assert bridge_state.becomes("0"), "the province broker does not show its bridge down"
    for code, messages in late.items():
        with Publisher(brokers[code], f"desks-{code}") as desks:
            desks.send(messages)
    hubs[24].wait_until(lambda c: c["accepted"] >= len(BN_EARLY) + len(BN_LATE))
    hubs[22].wait_until(lambda c: c["accepted"] >= len(QN_EARLY) + len(QN_LATE) + len(FORGED))
    central.start()  # the bridges reconnect (restart_timeout) and deliver what they queued
    assert bridge_state.becomes("1"), "the bridge did not come back"
    bridge_state.close()

    legit = national_early + len(BN_LATE) + len(QN_LATE)
    counts = hubs["national"].wait_until(lambda c: c["accepted"] >= legit, timeout=120)
    assert counts["accepted"] == legit, "the forged message for another province's unit reached the nation"

    national = {p["code"]: p for p in hubs["national"].get("/api/v1/provinces", date=DAY)["provinces"]}
    assert sorted(national) == [22, 24]
    assert national[24]["name"] == "Bắc Ninh" and national[22]["name"] == "Quảng Ninh"
    for code in (24, 22):
        own = hubs[code].get("/api/v1/provinces", date=DAY)["provinces"]
        assert [p["code"] for p in own] == [code]
        assert figures(national[code]) == pytest.approx(EXPECTED[code])
        assert figures(own[0]) == pytest.approx(EXPECTED[code])
        units = {u["id"]: u for u in national[code]["units"]}
        for unit_id, expected in EXPECTED_UNITS.items():
            if unit_id in units:
                assert {k: units[unit_id][k] for k in expected} == expected, unit_id
                province_own = hubs[code].get(f"/api/v1/sites/{unit_id}/stats", date=DAY)
                national_own = hubs["national"].get(f"/api/v1/sites/{unit_id}/stats", date=DAY)
                assert province_own == national_own, unit_id
    assert national[24]["outline_url"] and national[22]["outline_url"]
    assert hubs["national"].http.get(national[22]["outline_url"]).json()["features"][0]["properties"]["name"] == (
        "Quảng Ninh"
    )
    one = hubs["national"].get("/api/v1/provinces/22", date=DAY)
    assert figures(one) == pytest.approx(EXPECTED[22])
    assert hubs["national"].http.get("/api/v1/provinces/31").status_code == 404


def test_bridge_config_confines_each_province_to_its_own_units(tmp_path: Path) -> None:
    _, _, national = settings_of_provinces()
    config_file = tmp_path / "national.yaml"
    config_file.write_text(yaml.safe_dump(national.model_dump(mode="json"), allow_unicode=True))
    out = tmp_path / "out"
    args = ["bridge-config", "--config", str(config_file), "--out", str(out), "--national", "national.example.vn:8883"]
    assert hub_cli(args) == 0
    snippet = (out / "provinces" / "22" / "onestop-bridge.conf").read_text()
    assert "address national.example.vn:8883" in snippet and "remote_username bridge-p22" in snippet
    assert "cleansession false" in snippet and "topic onestop/v1/qn-ha-long/+/ticket out 1" in snippet
    topics = [line for line in snippet.splitlines() if line.startswith("topic ")]
    assert len(topics) == 2 * len(DEVICE_KINDS) and not any(
        "bn-" in t or "/alert " in t or "/config " in t for t in topics
    )
    assert oct((out / "provinces" / "22" / "onestop-bridge.conf").stat().st_mode & 0o777) == "0o600"
    acl = (out / "national" / "acl").read_text()
    block = acl.split("user bridge-p22")[1].split("user ")[0]
    assert "topic write onestop/v1/qn-ha-long/+/ticket" in block and "bn-" not in block
    password = snippet.split("remote_password ")[1].split()[0]
    assert hub_cli(args) == 0  # a second run keeps the passwords
    assert f"remote_password {password}" in (out / "provinces" / "22" / "onestop-bridge.conf").read_text()
    assert hub_cli([*args[:-1], "no-port"]) == 2
