"""What a province→national Mosquitto bridge costs and what it keeps: the configuration ``onestop-hub
bridge-config`` writes, over TLS on loopback, against a baseline of the same messages published straight to
one broker in the same run.

1. Live: a desk publishes N queue samples (QoS 1) to the province broker; a subscriber with the national hub's
   account and a persistent session counts them on the national broker. The same N go straight to a plain
   broker with a subscriber on it (the baseline). Reported: both rates and their ratio.
2. Outage: the national broker is stopped, N more are published to the province broker, the national broker
   is started again; reported: how long until the subscriber has them all, and how many are missing (must be 0).

Run: ``.venv/bin/python bench/bench_bridge.py [--messages N]`` (bounded: N ≤ 200,000, loopback only).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.mosquitto import MosquittoBroker, free_port, make_certificates  # noqa: E402
from hub.bridge import write_bridge_config  # noqa: E402
from protocol.messages import QueueMessage, QueueSource  # noqa: E402
from tests.support.national import national_broker_config, settings_of_provinces  # noqa: E402

TIMEOUT_S = 300


class Counter:
    """A subscriber that counts distinct message ids."""

    def __init__(self, broker: MosquittoBroker, username: str | None, password: str | None) -> None:
        self.ids: set[str] = set()
        self.changed = threading.Condition()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=username or "bench-sub", clean_session=False
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(1000)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("onestop/v1/#", qos=1)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        key = json.loads(message.payload)["id"]
        with self.changed:
            self.ids.add(key)
            self.changed.notify_all()

    def wait_for(self, count: int) -> float:
        """Seconds until ``count`` distinct messages have arrived (fails after TIMEOUT_S)."""
        start = time.monotonic()
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.ids) >= count, timeout=TIMEOUT_S):
                raise RuntimeError(f"only {len(self.ids)} of {count} arrived within {TIMEOUT_S} s")
        return time.monotonic() - start

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish(broker: MosquittoBroker, first: int, count: int) -> None:
    """``count`` queue samples of unit bn-hcc desk q01 at QoS 1, acknowledged by the broker."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"desk-{first}")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    now = datetime.now(UTC)
    infos = []
    for n in range(first, first + count):
        sample = QueueMessage(
            id=f"q-{n:09d}", ts=now, site="bn-hcc", desk="q01", length=n % 9, source=QueueSource.CAMERA
        )
        infos.append(client.publish(sample.topic, sample.to_payload(), qos=1))
    for info in infos:
        info.wait_for_publish(timeout=TIMEOUT_S)
    client.disconnect()
    client.loop_stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per phase (≤ 200,000)")
    n = min(parser.parse_args().messages, 200_000)
    with tempfile.TemporaryDirectory(prefix="bench-bridge-") as scratch:
        root = Path(scratch)
        _, _, national = settings_of_provinces()
        national = national.with_overrides(provinces=[national.provinces[0].model_dump()])
        (root / "certs").mkdir()
        certificates = make_certificates(root / "certs")
        bridge_port, hub_port = free_port(), free_port()
        out = root / "accounts"
        write_bridge_config(national, out, f"127.0.0.1:{bridge_port}", certificates[0])
        password = (out / "hub" / "onestop-hub.env").read_text().strip().split("=", 1)[1]
        (root / "national").mkdir()
        central = MosquittoBroker(
            port=hub_port,
            workdir=root / "national",
            config=national_broker_config(root / "national", hub_port, bridge_port, out / "national", certificates),
        )
        province = MosquittoBroker(
            workdir=root / "province", extra=(out / "provinces" / "24" / "onestop-bridge.conf").read_text()
        )
        baseline = MosquittoBroker(workdir=root / "baseline")
        with central, province, baseline:
            direct = Counter(baseline, None, None)
            t0 = time.monotonic()
            publish(baseline, 0, n)
            direct_s = time.monotonic() - t0 + direct.wait_for(n)
            direct.close()

            subscriber = Counter(central, "onestop-hub", password)
            publish(province, 2 * n, 1)  # one through the bridge before timing: it is connected
            subscriber.wait_for(1)
            t0 = time.monotonic()
            publish(province, 0, n)
            bridged_s = time.monotonic() - t0 + subscriber.wait_for(n + 1)

            central.stop()
            publish(province, n, n)
            central.start()
            drain_s = subscriber.wait_for(2 * n + 1)
            missing = 2 * n + 1 - len(subscriber.ids)
            subscriber.close()
    print(
        yaml.safe_dump(
            {
                "messages_per_phase": n,
                "direct_rate_per_s": round(n / direct_s),
                "bridged_rate_per_s": round(n / bridged_s),
                "bridged_to_direct_ratio": round(direct_s / bridged_s, 2),
                "outage_backlog": n,
                "drain_after_restart_s": round(drain_s, 1),
                "missing": missing,
            },
            sort_keys=False,
        ),
        end="",
    )
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
