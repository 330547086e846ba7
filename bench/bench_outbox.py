"""Outbox throughput: messages spooled durably (SQLite WAL, synchronous=FULL: an fsync per message) and
published from the spool at QoS 1, against publishing the same messages straight through paho at QoS 1,
on the same broker in the same run. Both wait until the broker acknowledged every message.

Run: ``.venv/bin/python bench/bench_outbox.py [--messages N]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.mosquitto import MosquittoBroker  # noqa: E402
from edge.config import EdgeMqttSettings  # noqa: E402
from edge.mqtt_link import MqttLink  # noqa: E402
from edge.outbox import Outbox, Spool  # noqa: E402
from protocol.messages import Envelope, RatingMessage, TicketEvent, TicketMessage  # noqa: E402


def messages(count: int) -> list[Envelope]:
    """A desk's ticket events and ratings."""
    out: list[Envelope] = []
    for i in range(count):
        if i % 3 == 2:
            out.append(RatingMessage(site="bn-hcc", desk="q01", score=4, ticket=f"{i:04d}", channel="button"))
        else:
            event = TicketEvent.CALLED if i % 3 == 0 else TicketEvent.FINISHED
            out.append(TicketMessage(site="bn-hcc", desk="q01", event=event, ticket=f"{i:04d}", staff="cb-1"))
    return out


def straight_paho(broker: MosquittoBroker, batch: list[Envelope]) -> float:
    """Messages per second published directly at QoS 1 (in memory only), all acknowledged."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="bench-straight")
    done = threading.Semaphore(0)
    client.on_publish = lambda c, u, mid, rc, p: done.release()
    client.max_inflight_messages_set(100)
    client.connect(broker.host, broker.port)
    client.loop_start()
    started = time.perf_counter()
    for message in batch:
        client.publish(message.topic, message.to_payload(), qos=1)
    for _ in batch:
        done.acquire()
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return len(batch) / elapsed


def through_outbox(broker: MosquittoBroker, batch: list[Envelope], workdir: Path) -> float:
    """Messages per second spooled durably, published from the spool, all acknowledged and removed."""
    link = MqttLink(EdgeMqttSettings(host=broker.host, port=broker.port), "bn-hcc", "q01")
    outbox = Outbox(Spool(workdir / "outbox.db", 1_000_000), link.client, in_flight=100)
    link.start()
    link.wait_connected(10)
    outbox.start()
    started = time.perf_counter()
    for message in batch:
        outbox.put(message)
    while outbox.acknowledged < len(batch):
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    outbox.close()
    link.close()
    outbox.spool.close()
    return len(batch) / elapsed


def main() -> int:
    """Run both and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    batch = messages(args.messages)
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker(workdir=Path(tmp) / "broker") as broker:
        straight = straight_paho(broker, batch)
        spooled = through_outbox(broker, batch, Path(tmp))
    print(f"messages: {len(batch)}")
    print(f"straight paho QoS 1 (memory only):          {straight:,.0f} msg/s")
    print(f"outbox (fsync per message, then QoS 1):     {spooled:,.0f} msg/s")
    print(f"ratio outbox / straight:                    {spooled / straight:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
