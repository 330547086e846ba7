"""Broker memory per message queued for an absent hub, with the shipped ``deploy/mosquitto.conf``: the figure
behind its ``max_queued_messages``. The hub's persistent session subscribes and leaves; a desk publishes N
queue samples and heartbeats at QoS 1; the broker's resident memory is read before and after.

Run: ``.venv/bin/python bench/bench_broker_queue.py [--messages N]`` (Linux: reads /proc).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.mosquitto import MosquittoBroker, free_port, make_certificates, shipped_config  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.provision import provision  # noqa: E402
from protocol.messages import HeartbeatMessage, QueueMessage, QueueSource  # noqa: E402

WINDOW = 1000


def resident_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def client(broker: MosquittoBroker, username: str, password: str, persistent: bool, start: bool = True) -> mqtt.Client:
    """A connected MQTT 5 client (its network loop started unless ``start`` is false)."""
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)
    c.max_inflight_messages_set(1000)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600 if persistent else 0
    c.connect(broker.host, broker.port, clean_start=not persistent, properties=properties)
    if start:
        c.loop_start()
    return c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, help="keep the broker's files (and log) here")
    args = parser.parse_args()
    count = args.messages
    with tempfile.TemporaryDirectory() as scratch:
        root = args.workdir or Path(scratch)
        provision(load_settings(), root / "out", hub_accounts=["onestop-hub"])
        passwords = {p.stem: p.read_text().strip().partition("=")[2] for p in root.glob("out/*/*.env")}
        port = free_port()
        (root / "broker").mkdir()
        config = shipped_config(
            root / "broker", port, free_port(), root / "out" / "broker", make_certificates(root / "broker")
        )
        with MosquittoBroker(port=port, workdir=root / "broker", config=config) as broker:
            assert broker._process is not None
            hub = client(broker, "onestop-hub", passwords["onestop-hub"], persistent=True)
            hub.subscribe("onestop/v1/#", qos=1)
            hub.disconnect()
            hub.loop_stop()
            before = resident_kib(broker._process.pid)
            desk = client(broker, "bn-hcc-q01", passwords["bn-hcc-q01"], persistent=False)
            done = threading.Semaphore(0)
            desk.on_publish = lambda *args: done.release()
            size = 0
            for i in range(count):
                message = (
                    HeartbeatMessage(
                        site="bn-hcc",
                        desk="q01",
                        uptime_s=float(i),
                        spool_depth=0,
                        fps=7.5,
                        model_latency_ms=41.0,
                        cpu_temp_c=55.2,
                    )
                    if i % 4 == 3
                    else QueueMessage(
                        site="bn-hcc", desk="q01", length=i % 9, est_wait_s=120.0, source=QueueSource.FUSED
                    )
                )
                payload = message.to_payload()
                size += len(payload)
                # paho's message ids wrap at 65,535: keep at most 1,000 unacknowledged, as the outbox does.
                if i >= WINDOW and not done.acquire(timeout=30):
                    raise SystemExit(f"the broker stopped acknowledging after {i - WINDOW} messages")
                desk.publish(message.topic, payload, qos=1)
            for _ in range(min(WINDOW, count)):
                if not done.acquire(timeout=30):
                    raise SystemExit("the broker did not acknowledge the last messages")
            desk.disconnect()
            desk.loop_stop()
            after = resident_kib(broker._process.pid)
            # The hub comes back: every queued message must reach it.
            arrived = threading.Semaphore(0)
            hub = client(broker, "onestop-hub", passwords["onestop-hub"], persistent=True, start=False)
            hub.on_message = lambda *args: arrived.release()
            hub.loop_start()
            for received in range(count):
                if not arrived.acquire(timeout=30):
                    raise SystemExit(f"the returning hub got only {received} of {count} queued messages")
            hub.disconnect()
            hub.loop_stop()
    per_message = (after - before) * 1024 / count
    print(
        f"{count} messages queued for the absent hub (mean payload {size / count:.0f} B): broker RSS "
        f"{before / 1024:.1f} → {after / 1024:.1f} MiB, {per_message:.0f} B per queued message; "
        "all delivered to the returning hub"
    )


if __name__ == "__main__":
    main()
