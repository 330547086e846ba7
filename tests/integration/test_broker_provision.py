"""`onestop-hub provision` output loaded into a real Mosquitto running the shipped `deploy/mosquitto.conf`.

What a subscriber on the hub's account actually receives is the verdict. A forbidden publish is followed by
a permitted sentinel from the same connection (Mosquitto handles one connection's packets in order), so
once the sentinel has arrived, the forbidden message has been dealt with; a short window after it catches
anything late.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devtools.mosquitto import (
    MosquittoBroker,
    free_port,
    make_certificates,
    make_client_certificate,
    shipped_config,
)
from edge.config import EdgeMqttSettings
from edge.mqtt_link import MqttLink
from hub.config import load_settings
from hub.progress import probe_topic
from hub.provision import provision
from protocol.messages import TicketEvent, TicketMessage
from tests.support.hub_server import HubServer

HUB = "onestop-hub"
SECOND_HUB = "onestop-hub-2"  # a second hub worker, sharing the load
DEVICE = "bn-kinh-bac-q01"  # unit bn-kinh-bac, desk q01 in the embedded sample province
NEIGHBOUR = "bn-kinh-bac-q02"
OWN = "onestop/v1/bn-kinh-bac/q01"
QUIET_WINDOW_S = 0.5


@dataclass
class Province:
    broker: MosquittoBroker
    plain_port: int
    tls_port: int
    ca_file: Path
    passwords: dict[str, str]


def read_passwords(out: Path) -> dict[str, str]:
    """Each account's password, as the installer would copy it from its .env file."""
    passwords = {}
    for path in [*out.glob("devices/*.env"), *out.glob("hub/*.env")]:
        passwords[path.stem] = path.read_text().strip().partition("=")[2]
    return passwords


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    root = tmp_path_factory.mktemp("province")
    out = root / "provisioned"
    provision(load_settings(), out, hub_accounts=[HUB, SECOND_HUB])
    workdir = root / "broker"
    workdir.mkdir()
    certs = make_certificates(workdir)
    plain_port, tls_port = free_port(), free_port()
    config = shipped_config(workdir, plain_port, tls_port, out / "broker", certs)
    with MosquittoBroker(port=plain_port, workdir=workdir, config=config) as broker:
        yield Province(broker, plain_port, tls_port, certs[0], read_passwords(out))


@dataclass
class Client:
    """A connected paho client that records what it receives and whether it was ever disconnected."""

    mqtt: mqtt.Client
    received: list[tuple[str, bytes]] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    subscribed: list[int] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15.0) -> bool:
        with self.changed:
            return self.changed.wait_for(condition, timeout)

    def payloads(self, topic: str) -> list[bytes]:
        with self.changed:
            return [p for t, p in self.received if t == topic]

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the broker's SUBACK."""
        _, mid = self.mqtt.subscribe(topic, qos=1)
        assert self.wait_until(lambda: mid in self.subscribed), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes) -> None:
        self.mqtt.publish(topic, payload, qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.mqtt.disconnect()
        self.mqtt.loop_stop()


def refusal(
    province: Province,
    username: str,
    password: str,
    client_id: str | None = None,
    tls: bool = True,
    protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv5,
    persistent: bool = False,
    certificate: tuple[Path, Path] | None = None,
) -> tuple[Client, str | None]:
    """Connect; return the client and None when accepted, or the broker's refusal."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id or username, protocol=protocol
    )
    wrapper = Client(client)
    outcome: list[str | None] = []

    def on_connect(c: mqtt.Client, u: object, f: object, reason: mqtt.ReasonCode, p: object) -> None:
        with wrapper.changed:
            outcome.append(str(reason) if reason.is_failure else None)
            wrapper.changed.notify_all()

    def on_message(c: mqtt.Client, u: object, message: mqtt.MQTTMessage) -> None:
        with wrapper.changed:
            wrapper.received.append((message.topic, bytes(message.payload)))
            wrapper.changed.notify_all()

    def on_disconnect(c: mqtt.Client, u: object, f: object, reason: mqtt.ReasonCode, p: object) -> None:
        with wrapper.changed:
            wrapper.disconnects.append(str(reason))
            wrapper.changed.notify_all()

    def on_subscribe(c: mqtt.Client, u: object, mid: int, codes: object, p: object) -> None:
        with wrapper.changed:
            wrapper.subscribed.append(mid)
            wrapper.changed.notify_all()

    client.on_connect, client.on_message, client.on_disconnect = on_connect, on_message, on_disconnect
    client.on_subscribe = on_subscribe
    if certificate is None:
        client.username_pw_set(username, password)
    if tls:
        cert, key = (str(path) for path in certificate) if certificate else (None, None)
        client.tls_set(ca_certs=str(province.ca_file), certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    port = province.tls_port if tls else province.plain_port
    if protocol == mqtt.MQTTv5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600 if persistent else 0
        client.connect(province.broker.host, port, keepalive=30, clean_start=not persistent, properties=properties)
    else:
        client.connect(province.broker.host, port, keepalive=30)
    client.loop_start()
    assert wrapper.wait_until(lambda: bool(outcome) or bool(wrapper.disconnects)), f"{username}: no CONNACK"
    return wrapper, (outcome[0] if outcome else wrapper.disconnects[0])


def connected(province: Province, username: str, **options: object) -> Client:
    client, refused = refusal(province, username, province.passwords[username], **options)  # type: ignore[arg-type]
    assert refused is None, f"{username} was refused: {refused}"
    return client


@pytest.fixture()
def hub(province: Province) -> Iterator[Client]:
    """The hub's account on the loopback listener with a persistent session, subscribed to everything."""
    client = connected(province, HUB, tls=False, persistent=True)
    client.subscribe("onestop/v1/#")
    yield client
    client.close()


def assert_dropped(hub: Client, sender: Client, topic: str, payload: bytes | None = None) -> None:
    """``sender`` publishes to ``topic``, then a permitted sentinel; the hub gets the sentinel only."""
    marker = payload if payload is not None else f"forbidden-{uuid.uuid4()}".encode()
    sender.publish(topic, marker)
    sentinel = f"sentinel-{uuid.uuid4()}".encode()
    sender.publish(f"{OWN}/heartbeat", sentinel)
    assert hub.wait_until(lambda: sentinel in hub.payloads(f"{OWN}/heartbeat")), "the permitted sentinel never came"
    time.sleep(QUIET_WINDOW_S)  # a window after the sentinel for anything late; the sentinel proved the order
    assert marker not in [p for _, p in hub.received], f"{topic} got through"


def test_a_device_publishes_every_kind_of_its_own_desk(province: Province, hub: Client) -> None:
    device = connected(province, DEVICE)
    kinds = ["ticket", "queue", "rating", "feedback", "emotion", "heartbeat", "status"]
    for kind in kinds:
        device.publish(f"{OWN}/{kind}", f"own {kind}".encode())
    assert hub.wait_until(lambda: all(hub.payloads(f"{OWN}/{kind}") for kind in kinds))
    device.close()


@pytest.mark.parametrize(
    "topic",
    [
        "onestop/v1/bn-kinh-bac/q02/ticket",  # another desk of the same unit
        "onestop/v1/bn-hcc/q01/rating",  # the same desk id in another unit
        "onestop/v1/bn-kinh-bac/q01/alert",  # an alert, even on its own desk
        "onestop/v1/bn-kinh-bac/all/alert",  # a unit-wide alert
        "onestop/v1/bn-kinh-bac/q01/config",  # its own config: only the hub sets it
        "onestop/v1/bn-kinh-bac/q01/ticket/extra",  # below its own topics
    ],
)
def test_a_device_cannot_speak_for_others_nor_as_the_hub(province: Province, hub: Client, topic: str) -> None:
    device = connected(province, DEVICE)
    assert_dropped(hub, device, topic)
    device.close()


def test_a_device_hears_only_its_own_config(province: Province, hub: Client) -> None:
    device = connected(province, DEVICE)
    device.subscribe("onestop/v1/#")  # granted, but the broker delivers only what its ACL lets it read
    hub.publish("onestop/v1/bn-kinh-bac/q02/config", b"config for q02")
    hub.publish("onestop/v1/bn-kinh-bac/q02/alert", b"alert for q02")
    hub.publish(f"{OWN}/alert", b"alert for q01")
    hub.publish(f"{OWN}/config", b"config for q01")
    assert device.wait_until(lambda: b"config for q01" in device.payloads(f"{OWN}/config"))
    time.sleep(QUIET_WINDOW_S)
    assert [topic for topic, _ in device.received] == [f"{OWN}/config"]
    device.close()


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt3.1.1", "mqtt5"])
@pytest.mark.parametrize("stolen", [HUB, NEIGHBOUR, "onestop-edge-bn-kinh-bac-q02"])
def test_a_device_cannot_take_another_client_id(
    province: Province, hub: Client, stolen: str, protocol: mqtt.MQTTProtocolVersion
) -> None:
    neighbour = connected(province, NEIGHBOUR, client_id="onestop-edge-bn-kinh-bac-q02")  # the agent's own id
    intruder, refused = refusal(province, DEVICE, province.passwords[DEVICE], client_id=stolen, protocol=protocol)
    # Either refused, or accepted under its own name: the hub and the neighbour stay connected.
    if refused is None:
        assert_dropped(hub, intruder, "onestop/v1/bn-kinh-bac/q02/heartbeat")
        intruder.close()
    sentinel = f"after-{uuid.uuid4()}".encode()
    neighbour.publish("onestop/v1/bn-kinh-bac/q02/heartbeat", sentinel)
    assert hub.wait_until(lambda: sentinel in hub.payloads("onestop/v1/bn-kinh-bac/q02/heartbeat"))
    assert hub.disconnects == [] and neighbour.disconnects == []
    neighbour.close()


def test_the_hub_session_keeps_its_queue_when_a_device_uses_the_hub_client_id(province: Province) -> None:
    hub = connected(province, HUB, tls=False, persistent=True)
    hub.subscribe(f"{OWN}/ticket")
    hub.close()  # the session (subscription and queue) stays on the broker
    device = connected(province, DEVICE)
    queued = f"queued-{uuid.uuid4()}".encode()
    device.publish(f"{OWN}/ticket", queued)
    intruder, refused = refusal(province, DEVICE, province.passwords[DEVICE], client_id=HUB, protocol=mqtt.MQTTv5)
    if refused is None:
        intruder.close()
    device.close()
    back = connected(province, HUB, tls=False, persistent=True)  # resumes the session
    assert back.wait_until(lambda: queued in back.payloads(f"{OWN}/ticket")), "the hub's queued message was lost"
    back.close()


@pytest.mark.parametrize(
    ("username", "password"),
    [(DEVICE, "wrong-password-123"), ("bn-kinh-bac-q99", "no-such-account"), (HUB, "guess")],
)
def test_a_wrong_password_is_refused(province: Province, username: str, password: str) -> None:
    client, refused = refusal(province, username, password)
    client.close()
    assert refused in {"Not authorized", "Bad user name or password"}


def test_another_devices_password_does_not_open_this_account(province: Province) -> None:
    client, refused = refusal(province, DEVICE, province.passwords[NEIGHBOUR])
    client.close()
    assert refused in {"Not authorized", "Bad user name or password"}


def remaining_length(size: int) -> bytes:
    """MQTT's variable-length size of a packet body."""
    encoded = b""
    while True:
        size, digit = divmod(size, 128)
        encoded += bytes([digit | (0x80 if size else 0)])
        if not size:
            return encoded


def plain_connect(host: str, port: int, username: str, password: str, will: tuple[str, bytes] | None = None) -> bytes:
    """Send an MQTT 3.1.1 CONNECT in clear text (with a QoS 1 last will if given), read the answer, then drop the
    connection without DISCONNECT (so the broker publishes the will); return the answer."""
    flags = 0xC2 | (0x0C if will else 0)  # user name, password, clean session; will flag and will QoS 1
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x1e"
    will_fields = [will[0].encode(), will[1]] if will else []
    fields = [username.encode(), *will_fields, username.encode(), password.encode()]
    for field_ in fields:  # client id, [will topic, will message], user name, password
        body += len(field_).to_bytes(2, "big") + field_
    answer = b""
    with socket.create_connection((host, port), timeout=10) as raw:
        raw.sendall(b"\x10" + remaining_length(len(body)) + body)
        try:
            while len(answer) < 4 and (chunk := raw.recv(4096)):
                answer += chunk
        except ConnectionResetError:
            pass  # the TLS listener resets the connection: that is a refusal too
    return answer


def test_plain_mqtt_to_the_tls_port_is_refused(province: Province) -> None:
    host, password = province.broker.host, province.passwords[DEVICE]
    # The same CONNECT is accepted in clear text on the loopback listener (CONNACK, return code 0)...
    assert plain_connect(host, province.plain_port, DEVICE, password) == b"\x20\x02\x00\x00"
    # ...and gets no CONNACK on the TLS port: the handshake fails and the connection closes.
    assert not plain_connect(host, province.tls_port, DEVICE, password).startswith(b"\x20")


def test_a_message_over_64_kib_is_dropped_by_the_broker(province: Province, hub: Client) -> None:
    # MQTT 3.1.1, as the edge agent speaks: the broker acknowledges the oversized message and drops it, so
    # the device's outbox moves on. (Mosquitto 2.0.11 answers an MQTT 5 client with PUBACK reason 0x95, which
    # paho-mqtt 2.x reads as malformed: see docs/security-broker.md.)
    device = connected(province, DEVICE, protocol=mqtt.MQTTv311)
    at_limit = b"a" * 65536
    device.publish(f"{OWN}/feedback", at_limit)
    assert hub.wait_until(lambda: at_limit in hub.payloads(f"{OWN}/feedback"))
    assert_dropped(hub, device, f"{OWN}/feedback", b"b" * 65537)
    assert device.disconnects == [], "a message over the limit must not cut the device off (its outbox would jam)"
    device.close()


def test_the_edge_agent_connects_with_its_provisioned_password(
    province: Province, hub: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESTOP_EDGE_MQTT_PASSWORD", province.passwords[NEIGHBOUR])
    settings = EdgeMqttSettings(
        host=province.broker.host,
        port=province.tls_port,
        username=NEIGHBOUR,
        tls=True,
        tls_ca_file=province.ca_file,
        reconnect_min_s=1,
        reconnect_max_s=2,
    )
    link = MqttLink(settings, "bn-kinh-bac", "q02")
    link.start()
    assert link.wait_connected(15), link.last_error
    # Its retained "online" status, published under its own desk, reaches the hub.
    assert hub.wait_until(lambda: any(b'"online":true' in p for p in hub.payloads("onestop/v1/bn-kinh-bac/q02/status")))
    link.close()


def test_the_hub_shares_its_subscription_among_workers(province: Province) -> None:
    worker = connected(province, SECOND_HUB, tls=False)
    worker.subscribe("$share/hub/onestop/v1/#")
    device = connected(province, DEVICE)
    marker = f"shared-{uuid.uuid4()}".encode()
    device.publish(f"{OWN}/queue", marker)
    assert worker.wait_until(lambda: marker in worker.payloads(f"{OWN}/queue"))
    device.close()
    worker.close()


def test_each_hub_account_probes_its_own_session_and_no_other(province: Province) -> None:
    """The probe topics of hub/progress.py: a hub account reads and writes its own; another hub account and a
    device can neither write it nor read it. A probe that got through would arrive before the sentinel published
    after it (one queue per session, in order: docs/scaling.md)."""
    first = connected(province, HUB, tls=False)
    second = connected(province, SECOND_HUB, tls=False)
    device = connected(province, DEVICE)
    try:
        first.subscribe(probe_topic(HUB))
        second.subscribe(probe_topic(SECOND_HUB))
        second.subscribe(probe_topic(HUB))  # not its own: nothing of it may reach it
        forged = [f"forged-{uuid.uuid4()}".encode() for _ in range(2)]
        device.publish(probe_topic(HUB), forged[0])
        second.publish(probe_topic(HUB), forged[1])
        sentinel = f"probe-{uuid.uuid4()}".encode()
        first.publish(probe_topic(HUB), sentinel)
        assert first.wait_until(lambda: sentinel in first.payloads(probe_topic(HUB)))
        assert first.payloads(probe_topic(HUB)) == [sentinel]
        own = f"probe-{uuid.uuid4()}".encode()
        second.publish(probe_topic(SECOND_HUB), own)  # after the first one's probe: it comes after it, if at all
        assert second.wait_until(lambda: own in second.payloads(probe_topic(SECOND_HUB)))
        assert second.payloads(probe_topic(HUB)) == []
    finally:
        for client in (first, second, device):
            client.close()


def test_a_device_last_will_on_another_desk_is_not_delivered(province: Province, hub: Client) -> None:
    host, password = province.broker.host, province.passwords[DEVICE]
    forbidden = f"will-{uuid.uuid4()}".encode()
    assert plain_connect(host, province.plain_port, DEVICE, password, ("onestop/v1/bn-kinh-bac/q02/status", forbidden))
    own = f"own-will-{uuid.uuid4()}".encode()
    assert plain_connect(host, province.plain_port, DEVICE, password, (f"{OWN}/status", own))
    # Its own will arrives (so wills are published at all), the one for another desk does not.
    assert hub.wait_until(lambda: own in hub.payloads(f"{OWN}/status"))
    time.sleep(QUIET_WINDOW_S)
    assert forbidden not in [p for _, p in hub.received]


def test_a_full_queue_is_logged_not_silent(tmp_path: Path) -> None:
    """The shipped queue bound, lowered to 5 here, says so in the broker's log when it is reached."""
    out = tmp_path / "provisioned"
    provision(load_settings(), out, hub_accounts=[HUB])
    certs = make_certificates(tmp_path)
    plain_port = free_port()
    config = shipped_config(tmp_path, plain_port, free_port(), out / "broker", certs)
    assert "\nmax_queued_messages 4000000\n" in config
    config = config.replace("\nmax_queued_messages 4000000\n", "\nmax_queued_messages 5\n")
    with MosquittoBroker(port=plain_port, workdir=tmp_path, config=config) as broker:
        province = Province(broker, plain_port, 0, certs[0], read_passwords(out))
        hub = connected(province, HUB, tls=False, persistent=True)
        hub.subscribe(f"{OWN}/ticket")
        hub.close()  # away: the broker queues for its session
        device = connected(province, DEVICE, tls=False)
        for number in range(20):
            device.publish(f"{OWN}/ticket", f"ticket {number}".encode())
        device.close()
        log = tmp_path / "mosquitto.log"
        deadline = time.monotonic() + 10
        while "Outgoing messages are being dropped for client onestop-hub" not in log.read_text():
            assert time.monotonic() < deadline, "the broker dropped queued messages without a word in its log"
            time.sleep(0.1)


def test_the_hub_records_a_desk_through_the_locked_down_broker(
    province: Province, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONESTOP_HUB_MQTT_PASSWORD", province.passwords[SECOND_HUB])
    settings = load_settings().with_overrides(mqtt={"username": SECOND_HUB})
    with HubServer(province.broker, tmp_path / "hub.db", settings=settings) as server:
        device = connected(province, DEVICE)
        now = datetime.now(UTC)
        forged = TicketMessage(ts=now, site="bn-kinh-bac", desk="q02", event=TicketEvent.ISSUED, ticket="A7")
        own = TicketMessage(ts=now, site="bn-kinh-bac", desk="q01", event=TicketEvent.ISSUED, ticket="A8")
        device.publish(forged.topic, forged.to_payload())  # the same connection: handled before the next
        device.publish(own.topic, own.to_payload())
        device.close()

        def waiting() -> dict[str, int]:
            live = server.get("/api/v1/sites/bn-kinh-bac/live")
            return {d["desk"]: d["queue_length"] for d in live["desks"]}

        deadline = time.monotonic() + 15
        while waiting().get("q01") != 1:
            assert time.monotonic() < deadline, f"the hub never recorded the desk's own ticket: {waiting()}"
            time.sleep(0.1)
        time.sleep(QUIET_WINDOW_S)
        assert waiting().get("q02", 0) == 0


def test_client_certificates_from_the_province_ca_replace_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optional listener of docs/security-broker.md: the certificate's CN is the account and the client id."""
    out = tmp_path / "provisioned"
    provision(load_settings(), out, hub_accounts=[HUB])
    certs = make_certificates(tmp_path)
    plain_port, cert_port = free_port(), free_port()
    config = shipped_config(tmp_path, plain_port, free_port(), out / "broker", certs)
    ca, cert, key = certs
    config += (
        f"listener {cert_port} 127.0.0.1\nuse_username_as_clientid true\ncafile {ca}\ncertfile {cert}\n"
        f"keyfile {key}\nrequire_certificate true\nuse_identity_as_username true\n"
    )
    device_cert = make_client_certificate(tmp_path, DEVICE)
    with MosquittoBroker(port=plain_port, workdir=tmp_path, config=config) as broker:
        province = Province(broker, plain_port, cert_port, ca, read_passwords(out))
        hub = connected(province, HUB, tls=False, persistent=True)
        hub.subscribe("onestop/v1/#")
        # The edge agent with its certificate and no password.
        monkeypatch.delenv("ONESTOP_EDGE_MQTT_PASSWORD", raising=False)
        settings = EdgeMqttSettings(
            host=broker.host,
            port=cert_port,
            username=DEVICE,
            tls=True,
            tls_ca_file=ca,
            tls_cert_file=device_cert[0],
            tls_key_file=device_cert[1],
        )
        link = MqttLink(settings, "bn-kinh-bac", "q01")
        link.start()
        assert link.wait_connected(15), link.last_error
        assert hub.wait_until(lambda: any(b'"online":true' in p for p in hub.payloads(f"{OWN}/status")))
        link.close()
        # The certificate's account is bound by the ACL and cannot take the hub's client id.
        intruder, refused = refusal(province, "", "", client_id=HUB, certificate=device_cert)
        assert refused is None
        assert_dropped(hub, intruder, "onestop/v1/bn-kinh-bac/q02/ticket")
        intruder.close()
        assert hub.disconnects == []
        # Without a certificate there is no session, password or not: the TLS handshake fails (with TLS 1.3 the
        # client learns it only after its CONNECT, from the broker closing the connection).
        try:
            stranger, refused = refusal(province, DEVICE, province.passwords[DEVICE])
        except (ssl.SSLError, ConnectionError) as error:
            refused = str(error)
        else:
            stranger.close()
        assert refused is not None
        hub.close()
