"""What Mosquitto does with the share of a dead member of an MQTT 5 shared subscription (docs/scaling.md,
"Several workers"). Loopback only, bounded: three runs of 60 messages, about 20 s.

Two members of ``$share/g/t/#`` with persistent sessions, as hub workers have: ``alive`` acknowledges what it
gets; ``dead`` runs in a process of its own, never acknowledges, and is killed with SIGKILL. The script counts
what ``alive`` receives of the messages published before the kill (in flight to ``dead``), while ``dead`` is
down, and after ``dead``'s session expired (or once a process with ``dead``'s client id connects again).

    .venv/bin/python bench/bench_shared_takeover.py
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.mosquitto import MosquittoBroker  # noqa: E402

GROUP = "$share/g/t/#"
MEMBER = r"""
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
port, expiry, ack = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "ack"
client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="dead", protocol=mqtt.MQTTv5,
                     manual_ack=not ack)
properties = Properties(PacketTypes.CONNECT)
properties.SessionExpiryInterval = expiry
client.on_connect = lambda c, u, f, rc, p: c.subscribe("$share/g/t/#", options=SubscribeOptions(qos=1))
client.on_subscribe = lambda *args: print("subscribed", flush=True)
client.on_message = lambda c, u, m: print(m.payload.decode(), flush=True)
client.connect("127.0.0.1", port, clean_start=False, properties=properties)
client.loop_forever()
"""


STARTED: list[subprocess.Popen[str]] = []  # killed at the end, whatever happened


def member(port: int, expiry: int, ack: bool) -> tuple[subprocess.Popen[str], list[str]]:
    """The member that dies: a process of its own, so that SIGKILL drops its connection as a crash does; and
    the messages it got before its subscription was acknowledged (those its session held)."""
    args = [sys.executable, "-c", MEMBER, str(port), str(expiry), "ack" if ack else "hold"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    STARTED.append(process)
    assert process.stdout is not None
    early = []
    while (line := process.stdout.readline().strip()) != "subscribed":
        assert line, "the member exited"
        early.append(line)
    return process, early


def run(expiry_s: int, come_back: bool) -> str:
    with MosquittoBroker() as broker:
        got: list[int] = []
        subscribed = threading.Event()
        alive = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="alive", protocol=mqtt.MQTTv5)
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
        alive.on_connect = lambda c, u, f, rc, p: c.subscribe(GROUP, options=SubscribeOptions(qos=1))
        alive.on_subscribe = lambda *args: subscribed.set()
        alive.on_message = lambda c, u, m: got.append(int(m.payload))
        alive.connect(broker.host, broker.port, clean_start=False, properties=properties)
        alive.loop_start()
        assert subscribed.wait(10)
        dead, _ = member(broker.port, expiry_s, ack=False)
        publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="desks")
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()

        def publish(first: int, last: int) -> None:
            for n in range(first, last):
                publisher.publish("t/1", str(n), qos=1).wait_for_publish(5)

        def share(first: int, last: int) -> int:
            return sum(first <= n < last for n in got)

        publish(0, 20)  # the dead member gets its share and holds it in flight (no PUBACK)
        time.sleep(0.5)
        dead.kill()
        dead.wait()
        killed = time.monotonic()
        publish(20, 40)
        time.sleep(1.0)
        lines = [
            f"session expiry {expiry_s} s: of 20 published before the kill the survivor got {share(0, 20)}; "
            f"of 20 published while the member was dead, {share(20, 40)}"
        ]
        if come_back:
            again, redelivered = member(broker.port, expiry_s, ack=True)  # the same client id: its session
            assert again.stdout is not None
            while len(redelivered) < 40 - share(0, 40):
                redelivered.append(again.stdout.readline())
            lines.append(f"  the member back with its client id after {time.monotonic() - killed:.1f} s got the "
                         f"{len(redelivered)} others")  # fmt: skip
            again.kill()
        else:
            time.sleep(expiry_s + 2.0)
            publish(40, 60)
            time.sleep(1.0)
            lines.append(
                f"  after its session expired ({time.monotonic() - killed:.1f} s after the kill): of the first 40 "
                f"the survivor has {share(0, 40)} (the rest is gone), of 20 published after it {share(40, 60)}"
            )
        publisher.disconnect()
        alive.disconnect()
        return "\n".join(lines)


def main() -> None:
    version = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    print(version)
    try:
        print(run(expiry_s=3600, come_back=True))
        print(run(expiry_s=3, come_back=False))
    finally:
        for process in STARTED:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
