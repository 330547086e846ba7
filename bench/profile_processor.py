"""One hub worker's processor on PostgreSQL, in process, with batches of 1,000 of the country's minute.

Where a worker's time goes without the broker: the country's traffic of ``bench_country.simulate`` (17,000 desks,
one simulated minute) handed to ``Processor.process`` in batches of 1,000, as a worker of a shared group does
(its changes announced to the other workers), against a private PostgreSQL (``devtools.postgres``). Prints the
rate, the worker's own CPU per message and the server's (all its processes), and with ``--profile`` the
functions that took the most time (cProfile: the profiler itself slows the run).

Run: ``.venv/bin/python bench/profile_processor.py [--batches 80] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_country import cpu_seconds, postgres_pids, simulate  # noqa: E402
from devtools.postgres import PostgresServer  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.processor import Incoming  # noqa: E402
from hub.runtime import HubRuntime  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=80, help="batches of 1,000 (the first warms up)")
    parser.add_argument("--profile", action="store_true", help="print the functions that took the most time")
    args = parser.parse_args()
    now = datetime.now(UTC)
    traffic = simulate(17000, 1, 5, 0.5, 0.5, 1, now, 1.0)
    items = [Incoming(topic, payload, now) for topic, payload in zip(traffic.topics, traffic.payloads, strict=True)]
    batches = [items[i : i + 1000] for i in range(0, len(items), 1000)][: args.batches]
    with PostgresServer() as server:
        url = server.create_database()
        settings = load_settings().with_overrides(mqtt={"client_id": "hub-a", "shared_group": "g"}, database=url)
        runtime = HubRuntime(settings)
        processor = runtime.processor
        processor.announce = True  # a worker of a group: its changes go to the others (hub/live_feed.py)
        processor.process(batches[0], now)
        profile = cProfile.Profile()
        server_before = sum(cpu_seconds(pid) for pid in postgres_pids(server))
        began, cpu_began = time.perf_counter(), time.process_time()
        if args.profile:
            profile.enable()
        for batch in batches[1:]:
            processor.process(batch, datetime.now(UTC))
        profile.disable()
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        server_cpu = sum(cpu_seconds(pid) for pid in postgres_pids(server)) - server_before
        count = sum(len(batch) for batch in batches[1:])
        print(
            f"{count:,} messages: {count / wall:,.0f} msg/s; the worker's CPU {cpu / count * 1e6:.0f} µs a message, "
            f"the server's {server_cpu / count * 1e6:.0f} µs"
        )
        if args.profile:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        runtime.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
