"""``onestop-sim``: publish a sample province's desk traffic over MQTT, in real time or faster."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.config import load_settings, parse_host_port
from protocol.errors import ConfigError
from protocol.messages import StatusMessage
from simulator.traffic import ProvinceTraffic, TrafficOptions

logger = logging.getLogger("simulator")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="onestop-sim", description="Simulated one-stop desks of a province")
    parser.add_argument("--broker", default="127.0.0.1:1883", metavar="HOST:PORT", help="MQTT broker")
    parser.add_argument("--config", type=Path, default=None, help="hub YAML with the units to simulate")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second; 0: no pause")
    parser.add_argument("--backfill-minutes", type=float, default=0.0, help="start this far in the past")
    parser.add_argument("--start", type=datetime.fromisoformat, help="simulated start (RFC 3339); default now")
    parser.add_argument("--duration-minutes", type=float, default=None, help="stop after this simulated time")
    parser.add_argument("--always-open", action="store_true", help="arrivals at any hour (demo at night)")
    parser.add_argument("--load", type=float, default=0.6, help="arrivals as a share of desk capacity")
    parser.add_argument("--duplicates", type=float, default=0.01, help="share of messages sent twice")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument(
        "--skip-desk",
        action="append",
        default=[],
        metavar="SITE/DESK",
        help="leave this desk to a real agent (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``onestop-sim``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
        host, port = parse_host_port(args.broker)
    except ConfigError as error:
        print(f"onestop-sim: {error}", file=sys.stderr)
        return 2

    anchor = datetime.now(UTC)
    start = args.start or anchor - timedelta(minutes=args.backfill_minutes)
    stop_at = start + timedelta(minutes=args.duration_minutes) if args.duration_minutes else None
    options = TrafficOptions(
        load=args.load,
        always_open=args.always_open,
        duplicate_share=args.duplicates,
        seed=args.seed,
        skip_desks=frozenset(args.skip_desk),
    )
    traffic = ProvinceTraffic(settings, start, options)

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"onestop-sim-{args.seed}")
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    # paho numbers in-flight messages with 16-bit ids: bound what is queued so ids never wrap onto a
    # message still waiting for its acknowledgement.
    unacknowledged = threading.BoundedSemaphore(20000)
    client.on_publish = lambda c, u, mid, rc, p: unacknowledged.release()
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect_async(host, port)
    client.loop_start()
    if not connected.wait(30):
        print(f"onestop-sim: cannot reach the MQTT broker at {args.broker}", file=sys.stderr)
        return 1

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    wall_anchor = time.monotonic()
    sent = 0
    last = None
    try:
        for moment, message in traffic:
            if stopping.is_set() or (stop_at is not None and moment > stop_at):
                break
            if args.speed > 0 and moment > anchor:
                due = wall_anchor + (moment - anchor).total_seconds() / args.speed
                delay = due - time.monotonic()
                if delay > 0 and stopping.wait(delay):
                    break
            while not unacknowledged.acquire(timeout=1):
                if stopping.is_set():
                    break
            info = client.publish(message.topic, message.to_payload(), qos=1, retain=isinstance(message, StatusMessage))
            last = info
            sent += 1
            if sent % 5000 == 0:
                logger.info("published %d messages (simulated time %s)", sent, moment.isoformat())
    except KeyboardInterrupt:
        pass
    finally:
        if last is not None:
            last.wait_for_publish(timeout=60)
        client.disconnect()
        client.loop_stop()
    logger.info("published %d messages", sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
