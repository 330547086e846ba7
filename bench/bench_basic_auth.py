"""Do HTTP Basic clients slow the other pages? The latency of a plain page (``/api/v1/auth/me`` with a session
cookie) alone, then while 8 scripts hammer the API with HTTP Basic, as a ratio in the same run.

Two loads: ``cached`` (the same valid credentials again and again: the hub remembers a verified header for a
few minutes, as a real script would be served) and ``scrypt`` (the memory switched off, so every Basic
request costs a full scrypt verification: the worst case). On main every Basic request ran scrypt on the event
loop, so each of them stopped every other page for its duration.

    .venv/bin/python bench/bench_basic_auth.py [--seconds 8] [--clients 8]

Prints median and 95th percentile per phase and the ratio to the unloaded baseline. Not a test.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import hub.auth  # noqa: E402
from devtools.mosquitto import MosquittoBroker  # noqa: E402
from hub.auth import hash_password  # noqa: E402
from hub.config import HubSettings, load_settings  # noqa: E402
from hub.figures import percentile  # noqa: E402
from tests.support.hub_server import HubServer  # noqa: E402

USERS = {f"script{i}": f"mat-khau-script-{i}" for i in range(8)} | {"giamsat": "giam-sat-2026"}


def p95(values: list[float]) -> float:
    """The 95th percentile (the hub's own definition)."""
    return percentile(values, 95) or 0.0


def settings() -> HubSettings:
    data = load_settings().model_dump()
    data["access"] = {
        "users": [
            {"name": name, "role": "supervisor", "password_hash": hash_password(password)}
            for name, password in USERS.items()
        ]
    }
    return HubSettings.model_validate(data)


def measure(url: str, cookie: str, seconds: float) -> list[float]:
    """Latencies (ms) of the plain page, one request after the other."""
    page = httpx.Client(base_url=url, cookies={"onestop_session": cookie}, timeout=30)
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        assert page.get("/api/v1/auth/me").json()["authenticated"]
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def hammer(url: str, name: str, stop: threading.Event, counts: multiprocessing.Queue[int]) -> None:
    """One script in its own process (so that it does not share the hub's interpreter lock)."""
    client = httpx.Client(base_url=url, auth=(name, USERS[name]), timeout=60)
    done = 0
    while not stop.is_set():
        client.get("/api/v1/auth/me").raise_for_status()
        done += 1
    counts.put(done)


def phase(url: str, cookie: str, seconds: float, clients: int) -> tuple[list[float], float]:
    stop = multiprocessing.Event()
    counts: multiprocessing.Queue[int] = multiprocessing.Queue()
    names = [f"script{i % 8}" for i in range(clients)]
    workers = [multiprocessing.Process(target=hammer, args=(url, n, stop, counts), daemon=True) for n in names]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let the load settle
    latencies = measure(url, cookie, seconds)
    stop.set()
    total = sum(counts.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)
    return latencies, total / (seconds + 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, MosquittoBroker(workdir=Path(tmp) / "broker") as broker:
        server = HubServer(broker, Path(tmp) / "hub.db", "hub-bench-basic", settings())
        server.http.auth = ("giamsat", USERS["giamsat"])
        with server:
            credentials = {"name": "giamsat", "password": USERS["giamsat"]}
            login = httpx.post(f"{server.url}/api/v1/auth/login", json=credentials)
            cookie = login.cookies["onestop_session"]
            baseline = measure(server.url, cookie, args.seconds)
            base_median = statistics.median(baseline)
            print(f"{'phase':<10} {'median ms':>10} {'p95 ms':>8} {'ratio':>6} {'basic req/s':>12}")
            print(f"{'alone':<10} {base_median:>10.2f} {p95(baseline):>8.2f} {1.0:>6.1f} {0:>12}")
            policy = server._server.config.app.state.access_policy  # noqa: SLF001 (a bench may look inside)
            for load in ("cached", "scrypt"):
                hub.auth.BASIC_CACHE_S = 300.0 if load == "cached" else 0.0
                getattr(policy, "_basic_cache", {}).clear()
                latencies, rate = phase(server.url, cookie, args.seconds, args.clients)
                median = statistics.median(latencies)
                print(f"{load:<10} {median:>10.2f} {p95(latencies):>8.2f} {median / base_median:>6.1f} {rate:>12.0f}")


if __name__ == "__main__":
    main()
