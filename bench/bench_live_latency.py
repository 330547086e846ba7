"""End-to-end latency of the live dashboard: from an MQTT publish to the event arriving on the hub's event stream
(``/api/v1/stream``, what the dashboard listens to), at 1,000 messages per second, against the broker's own
round trip (publish → a plain subscriber) measured on the same messages in the same run.

The hub runs as its own process (``onestop-hub serve``) on a private Mosquitto. The messages are camera queue
samples for 50 desks of a unit, each desk's queue length counting up, so that a desk event on the stream says
which messages it carries: a message has arrived when an event of its desk shows its length or more.

    .venv/bin/python bench/bench_live_latency.py [--rate 1000] [--seconds 10]

Prints median and 95th percentile of both paths and their ratio. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.mosquitto import MosquittoBroker, free_port  # noqa: E402
from protocol.messages import QueueMessage, QueueSource  # noqa: E402

SITE = "bench-latency"
DESKS = [f"d{i:02d}" for i in range(50)]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def start_hub(broker: MosquittoBroker, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``onestop-hub serve`` on a free loopback port; returns the process and its URL once it is subscribed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(ROOT / ".venv" / "bin" / "onestop-hub"),
        "serve",
        "--broker",
        broker.address,
        "--database",
        f"sqlite:///{workdir / 'hub.db'}",
        "--listen",
        f"127.0.0.1:{port}",
        "--client-id",
        "hub-bench-latency",
        "--log-level",
        "WARNING",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(workdir / "hub.log", "wb"))  # noqa: SIM115
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).json()["mqtt_connected"]:
                time.sleep(0.3)
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the hub did not start; see hub.log")


def main() -> int:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to publish")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds left out at the start")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="onestop-bench-latency-"))
    with MosquittoBroker(workdir=workdir / "broker") as broker:
        hub, url = start_hub(broker, workdir)
        try:
            result = measure(broker, url, args.rate, args.seconds, args.warmup)
        finally:
            hub.terminate()
            hub.wait(timeout=20)
    report(result, args.rate)
    return 0


Key = tuple[str, int]


def measure(broker: MosquittoBroker, url: str, rate: float, seconds: float, warmup: float) -> dict[str, list[float]]:
    """Publish at ``rate`` for ``seconds``; latencies (ms) of the broker round trip and of the stream."""
    sent: dict[Key, float] = {}
    via_broker: dict[Key, float] = {}
    via_stream: dict[Key, float] = {}
    highest_seen: dict[str, int] = {}
    lock = threading.Lock()
    stream_ready = threading.Event()
    stop = threading.Event()

    def listen_stream() -> None:
        with httpx.stream("GET", f"{url}/api/v1/stream", params={"site": SITE}, timeout=None) as response:
            name = None
            for line in response.iter_lines():
                stream_ready.set()
                if stop.is_set():
                    return
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name == "desk":
                    arrived = time.perf_counter()
                    data = json.loads(line[6:])
                    desk, length = data["desk"], data["queue_length"]
                    with lock:
                        for n in range(highest_seen.get(desk, 0) + 1, length + 1):
                            via_stream.setdefault((desk, n), arrived)
                        highest_seen[desk] = max(highest_seen.get(desk, 0), length)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        arrived = time.perf_counter()
        data = json.loads(message.payload)
        via_broker.setdefault((data["desk"], data["length"]), arrived)

    listener = threading.Thread(target=listen_stream, daemon=True)
    listener.start()
    if not stream_ready.wait(10):
        raise RuntimeError("the event stream did not open")

    subscriber = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-latency-sub")
    subscriber.on_message = on_message
    subscriber.connect(broker.host, broker.port)
    subscriber.subscribe(f"onestop/v1/{SITE}/+/queue", qos=1)
    subscriber.loop_start()
    publisher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-latency-pub")
    publisher.max_inflight_messages_set(1000)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    time.sleep(0.5)

    total = int(rate * seconds)
    start_ts = datetime.now(UTC)
    began = time.perf_counter()
    for i in range(total):
        due = began + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        desk = DESKS[i % len(DESKS)]
        length = i // len(DESKS) + 1
        message = QueueMessage(
            ts=start_ts + timedelta(milliseconds=i),
            site=SITE,
            desk=desk,
            length=length % 1001,
            source=QueueSource.CAMERA,
            present=True,
        )
        sent[(desk, length)] = time.perf_counter()
        publisher.publish(message.topic, message.to_payload(), qos=1)
    achieved = total / (time.perf_counter() - began)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (len(via_stream) < total or len(via_broker) < total):
        time.sleep(0.1)
    stop.set()
    publisher.disconnect()
    publisher.loop_stop()
    subscriber.disconnect()
    subscriber.loop_stop()

    skip = int(warmup * rate)
    keys = [k for k in sent if k[1] > skip // len(DESKS)]
    broker_ms = [(via_broker[k] - sent[k]) * 1000 for k in keys if k in via_broker]
    stream_ms = [(via_stream[k] - sent[k]) * 1000 for k in keys if k in via_stream]
    print(
        f"published {total} messages at {achieved:,.0f}/s; received {len(via_broker)} via the broker, "
        f"{len(via_stream)} via the hub's stream"
    )
    return {"broker": broker_ms, "stream": stream_ms}


def report(result: dict[str, list[float]], rate: float) -> None:
    """The table: median, 95th percentile, ratio stream / broker."""
    broker, stream = result["broker"], result["stream"]
    if not broker or not stream:
        print("nothing measured")
        return
    rows = [
        ("broker round trip (publish → subscriber)", statistics.median(broker), percentile(broker, 95)),
        ("hub: publish → event on /api/v1/stream", statistics.median(stream), percentile(stream, 95)),
    ]
    print(f"\nlatency at {rate:,.0f} messages/s, {len(stream)} messages measured")
    print(f"{'path':<45} {'median ms':>10} {'p95 ms':>10}")
    for name, median, p95 in rows:
        print(f"{name:<45} {median:>10.1f} {p95:>10.1f}")
    print(f"{'ratio hub / broker':<45} {rows[1][1] / rows[0][1]:>10.1f} {rows[1][2] / rows[0][2]:>10.1f}")


if __name__ == "__main__":
    sys.exit(main())
