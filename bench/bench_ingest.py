"""Ingest throughput of the hub against a bare paho subscriber, on the same broker, in the same run.

Both consumers drain the same backlog of simulated province traffic that the broker queued for their
persistent MQTT 5 sessions while they were away, so the publisher's speed does not enter the figure:
- baseline: a bare paho-mqtt subscriber that only counts messages (QoS 1, automatic acknowledgements);
- hub: the hub's ingest: validated, deduplicated, stored in SQLite (WAL), visits rebuilt, live state and
  alerts updated, acknowledged after commit.
Prints messages per second of each and the ratio hub / bare, and checks that nothing was lost.

Run: ``make bench`` or ``.venv/bin/python bench/bench_ingest.py [--messages N] [--engine postgresql]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.mosquitto import MosquittoBroker  # noqa: E402
from devtools.postgres import PostgresServer  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.runtime import HubRuntime  # noqa: E402
from protocol.topics import SUBSCRIPTION_ALL  # noqa: E402
from simulator.traffic import ProvinceTraffic, TrafficOptions  # noqa: E402


def traffic(count: int) -> list[tuple[str, bytes]]:
    """``count`` messages of a simulated working day (with its 1 % duplicates)."""
    start = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # 07:30 local
    messages = []
    for _, message in ProvinceTraffic(load_settings(), start, TrafficOptions(seed=3)):
        messages.append((message.topic, message.to_payload()))
        if len(messages) == count:
            break
    return messages


def publish_all(broker: MosquittoBroker, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait until the broker acknowledged every message."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    window = threading.BoundedSemaphore(10000)
    client.on_publish = lambda c, u, mid, rc, p: window.release()
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    last = None
    for topic, payload in messages:
        window.acquire()
        last = client.publish(topic, payload, qos=1)
    assert last is not None
    last.wait_for_publish(timeout=120)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def session_properties() -> Properties:
    """A persistent session (one hour) that may have 1,000 messages in flight, as the hub's."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 1000
    return properties


def bare_rate(broker: MosquittoBroker, count: int, fill: Callable[[], None], timeout: float = 300) -> float:
    """Messages per second a bare paho subscriber drains from its queued session: it subscribes, goes away,
    ``fill`` publishes the ``count`` messages of the backlog, and it comes back to take them.

    Raises:
        RuntimeError: fewer than ``count`` messages came within ``timeout`` seconds.
    """
    received = 0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    def make() -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=mqtt.MQTTv5
        )
        client.on_message = on_message
        client.on_subscribe = lambda *args: subscribed.set()
        return client

    client = make()
    client.connect(broker.host, broker.port, clean_start=True, properties=session_properties())
    client.loop_start()
    client.subscribe(SUBSCRIPTION_ALL, qos=1)
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()

    fill()
    client = make()
    started = time.perf_counter()
    client.connect(broker.host, broker.port, clean_start=False, properties=session_properties())
    client.loop_start()
    if not done.wait(timeout):
        raise RuntimeError(f"bare subscriber got {received} of {count} within {timeout:.0f} s")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return count / elapsed


def hub_rate(broker: MosquittoBroker, messages: list[tuple[str, bytes]], database: str) -> tuple[float, dict[str, int]]:
    """Messages per second the hub's ingest drains from its queued session, and what the record holds."""
    settings = load_settings().with_overrides(
        mqtt={"host": broker.host, "port": broker.port, "client_id": "bench-hub"},
        database=database,
        ingest={"max_age_days": 36500},  # the traffic is of a fixed day, however long ago
    )
    runtime = HubRuntime(settings)
    runtime.start()
    runtime.ingest.wait_connected(10)
    time.sleep(0.5)
    runtime.close()

    publish_all(broker, messages)
    runtime = HubRuntime(settings)
    started = time.perf_counter()
    runtime.start()
    counters = runtime.ingest.counters
    deadline = time.monotonic() + 600
    while counters.accepted + counters.duplicates + counters.rejected < len(messages):
        if time.monotonic() > deadline:
            raise RuntimeError(f"hub handled {counters} of {len(messages)}")
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    stored = runtime.store.message_counts()
    figures = {
        "accepted": counters.accepted,
        "duplicates": counters.duplicates,
        "rejected": counters.rejected,
        "stored": sum(v for k, v in stored.items() if k != "rejected"),
    }
    runtime.close()
    return len(messages) / elapsed, figures


def main() -> int:
    """Run both consumers and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30000)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite", help="where the record is")
    args = parser.parse_args()
    messages = traffic(args.messages)
    unique = len({payload for _, payload in messages})
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        broker = stack.enter_context(MosquittoBroker(workdir=tmp / "broker"))
        if args.engine == "postgresql":  # a private PostgreSQL on loopback (durability off, as in the tests)
            database = stack.enter_context(PostgresServer()).create_database()
        else:
            database = f"sqlite:///{tmp / 'bench.db'}"
        bare = bare_rate(broker, len(messages), lambda: publish_all(broker, messages))
        hub, figures = hub_rate(broker, messages, database)
    ratio = hub / bare
    print(f"engine: {args.engine}")
    print(f"messages: {len(messages)} ({unique} unique, {len(messages) - unique} duplicates)")
    print(f"bare paho subscriber: {bare:,.0f} msg/s")
    print(f"hub ingest:           {hub:,.0f} msg/s  {figures}")
    print(f"ratio hub / bare:     {ratio:.2f}")
    lost = unique - figures["stored"]
    print(f"lost: {lost}")
    return 0 if lost == 0 and figures["duplicates"] == len(messages) - unique else 1


if __name__ == "__main__":
    sys.exit(main())
