"""The country on one province's machinery: N desks at their real rates through 2 hub workers on PostgreSQL.

Loopback only, bounded in count (``--desks`` × ``--minutes``) and time (``--timeout``). One private
PostgreSQL 15 (``devtools.postgres``), one Mosquitto with the production queue sizing of
``deploy/mosquitto.conf`` (not the stock 1,000-message limit), and ``--workers`` hub workers (processes,
``HubRuntime`` as ``onestop-hub serve`` runs it, without the web server) on one MQTT 5 shared subscription
(``mqtt.shared_group``).

What each simulated desk sends (the edge's defaults and the simulator's model, stated in ``RATES``):
- a queue sample every ``queue_interval_s`` (10 s, edge/config.py: "at least this often, and on change");
- a heartbeat every ``heartbeat_s`` (30 s, edge/config.py);
- ticket events of its visits: the simulator's peak-hour visits per desk (60 / mean service minutes ×
  load 0.6 × the 9 o'clock profile 1.5, simulator/traffic.py), four events each (issued, called,
  started, finished);
- a rating after 65 % of the visits (simulator RATING_SHARE);
every message numbered per desk (seq and stream, as the edge's outbox does). The morning burst
(``--burst-start``, ``--burst-minutes``) multiplies by ``--burst`` (5) what grows with the crowd: visits,
their ratings, and queue samples (sent on every change); heartbeats are a timer and stay as they are.

Two phases on the same messages:
1. a bare paho subscriber (QoS 1, counts only) drains them as a backlog queued for its persistent
   session: the baseline rate;
2. the hub workers drain the same backlog queued for their sessions: the hub's rate (first batch received
   → last batch committed) and its ratio to the baseline's;
3. live: the workers run while the messages (dated anew) are published ``--speedup`` times as fast as
   simulated time: messages sent and recorded (lost must be 0), duplicates in the record, ingest lag
   (publish → committed: the commit time of each worker's batches, matched to each message's
   ``received_at`` in the record), CPU and peak memory of each process.

Run: ``make bench`` (1,000 desks) or ``.venv/bin/python bench/bench_country.py --desks 17000``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from array import array
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
RUNNING: list[subprocess.Popen[str]] = []  # worker processes not stopped yet (ended if the bench stops early)
sys.path.insert(0, str(ROOT))

from bench import bench_ingest as ingest_bench  # noqa: E402
from devtools.mosquitto import SHIPPED_CONFIG, MosquittoBroker, find_mosquitto  # noqa: E402
from devtools.postgres import PostgresServer  # noqa: E402
from edge.config import EdgeSettings  # noqa: E402
from protocol.messages import HeartbeatMessage, QueueMessage, RatingMessage, TicketMessage  # noqa: E402
from simulator.traffic import HOURLY_PROFILE, RATING_SHARE, SERVICE_MINUTES, TrafficOptions  # noqa: E402

DESKS_PER_UNIT = 5  # about 3,400 units × 5 desks ≈ 17,000 desks (issue 10)
ID_PREFIX = "ctry"  # the ids of this bench's messages (the hub's own alerts have others)
TICKET_EVENTS = ("issued", "called", "started", "finished")
# The production broker's queue and size options, taken from the shipped file (accounts and TLS left out:
# loopback, anonymous).
BROKER_OPTIONS = (
    "max_queued_messages",
    "max_queued_bytes",
    "max_inflight_messages",
    "message_size_limit",
    "max_packet_size",
    "max_keepalive",
    "autosave_interval",
    "autosave_on_changes",
    "persistent_client_expiration",
)


@dataclass(frozen=True, slots=True)
class Rates:
    """Messages per second of one desk outside the burst."""

    queue_every_s: float
    heartbeat_every_s: float
    visits_per_s: float
    ratings_per_visit: float

    @property
    def per_desk(self) -> float:
        """All kinds together."""
        visits = self.visits_per_s * (len(TICKET_EVENTS) + self.ratings_per_visit)
        return 1 / self.queue_every_s + 1 / self.heartbeat_every_s + visits


def real_rates() -> Rates:
    """The rates of a desk from the edge's defaults and the simulator's model (see the module's text)."""
    edge = EdgeSettings.model_fields
    mean_minutes = sum(SERVICE_MINUTES.values()) / len(SERVICE_MINUTES)
    visits_per_hour = 60 / mean_minutes * TrafficOptions().load * HOURLY_PROFILE[9]
    return Rates(
        queue_every_s=float(edge["queue_interval_s"].default),
        heartbeat_every_s=float(edge["heartbeat_s"].default),
        visits_per_s=visits_per_hour / 3600,
        ratings_per_visit=RATING_SHARE,
    )


RATES = real_rates()


@dataclass(slots=True)
class Traffic:
    """The messages of the run in publishing order, with what they are."""

    topics: list[str] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    offsets: array = field(default_factory=lambda: array("d"))  # simulated seconds from the start
    kinds: Counter[str] = field(default_factory=Counter)
    tickets: int = 0


def simulate(
    desks: int,
    minutes: float,
    burst: float,
    burst_start: float,
    burst_minutes: float,
    seed: int,
    start: datetime,
    pace: float,
) -> Traffic:
    """Every message of ``desks`` desks over ``minutes`` simulated minutes, in time order, dated from
    ``start`` on with simulated time run ``pace`` times as fast as real time (as they will be published)."""
    rng = random.Random(seed)
    end_s = minutes * 60
    burst_from, burst_to = burst_start * 60, (burst_start + burst_minutes) * 60

    def factor(t: float) -> float:
        return burst if burst_from <= t < burst_to else 1.0

    names = [(f"u{d // DESKS_PER_UNIT:04d}", f"q{d % DESKS_PER_UNIT + 1:02d}") for d in range(desks)]
    numbers = [0] * desks
    tickets = [0] * desks
    queues = [rng.randint(0, 3) for _ in range(desks)]
    mean_minutes = sum(SERVICE_MINUTES.values()) / len(SERVICE_MINUTES)
    stage = [len(TICKET_EVENTS)] * desks  # the event the desk's current visit is at (none yet)
    events: list[tuple[float, int, str, str]] = []  # (simulated second, desk, what, the ticket rated)
    for d in range(desks):
        events.append((rng.uniform(0, RATES.queue_every_s), d, "queue", ""))
        events.append((rng.uniform(0, RATES.heartbeat_every_s), d, "heartbeat", ""))
        events.append((rng.expovariate(len(TICKET_EVENTS) * RATES.visits_per_s * burst), d, "ticket", ""))
    heapq.heapify(events)
    traffic = Traffic()
    top = len(TICKET_EVENTS) * RATES.visits_per_s * burst
    while events:
        t, d, action, rated = heapq.heappop(events)
        if t >= end_s:
            continue
        if action == "ticket":
            # Thinning: events drawn at the burst's rate, kept with the probability of the rate now.
            heapq.heappush(events, (t + rng.expovariate(top), d, "ticket", ""))
            if rng.random() >= factor(t) / burst:
                continue
        site, desk = names[d]
        numbers[d] += 1
        common: dict[str, Any] = {
            "id": f"{ID_PREFIX}{len(traffic.payloads) + 1}",
            "ts": start + timedelta(seconds=t / pace),
            "site": site,
            "desk": desk,
            "seq": numbers[d],
            "stream": f"s-{site}-{desk}",
        }
        if action == "queue":  # the line moves by at most one person between samples, longer in the burst
            step = rng.choice((-1, 0, 1, 1) if factor(t) > 1 else (-1, 0, 0, 1))
            queues[d] = length = min(15, max(0, queues[d] + step))
            wait = length * mean_minutes * 60 / DESKS_PER_UNIT
            message: Any = QueueMessage(**common, length=length, est_wait_s=wait, source="camera", present=True)
            heapq.heappush(events, (t + RATES.queue_every_s / factor(t), d, "queue", ""))
        elif action == "heartbeat":
            message = HeartbeatMessage(**common, uptime_s=3600 + t, spool_depth=0, cpu_temp_c=52.5)
            heapq.heappush(events, (t + RATES.heartbeat_every_s, d, "heartbeat", ""))
        elif action == "rating":
            score = rng.choice((4, 4, 3, 2))
            message = RatingMessage(**common, score=score, ticket=rated, staff=f"cb-{desk}", channel="button")
        else:
            if stage[d] == len(TICKET_EVENTS):
                stage[d] = 0
                tickets[d] += 1
                traffic.tickets += 1
            event = TICKET_EVENTS[stage[d]]
            stage[d] += 1
            ticket = f"{desk}-{tickets[d]:04d}"  # unique in the unit (its desks number their own)
            staff = None if event == "issued" else f"cb-{desk}"
            message = TicketMessage(**common, event=event, ticket=ticket, service="chung-thuc", staff=staff)
            if event == "finished" and rng.random() < RATES.ratings_per_visit:
                heapq.heappush(events, (t + rng.uniform(5, 40), d, "rating", ticket))
        traffic.topics.append(message.topic)
        traffic.payloads.append(message.to_payload())
        traffic.offsets.append(t)
        traffic.kinds[message.kind.value] += 1
    return traffic


# -- the broker and the processes ------------------------------------------------------------------------


def production_broker(workdir: Path) -> MosquittoBroker:
    """A loopback Mosquitto with the shipped file's queue, size and persistence options."""
    shipped = {}
    for line in SHIPPED_CONFIG.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name in BROKER_OPTIONS:
            shipped[name] = value
    missing = set(BROKER_OPTIONS) - set(shipped)
    if missing:
        raise SystemExit(f"{SHIPPED_CONFIG} lacks {', '.join(sorted(missing))}")
    broker = MosquittoBroker(workdir=workdir)
    lines = [
        f"listener {broker.port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {workdir}/",
        f"log_dest file {broker.log_path}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        *(f"{name} {value}" for name, value in shipped.items()),
        *(["user root"] if os.geteuid() == 0 else []),
    ]
    return MosquittoBroker(port=broker.port, workdir=workdir, config="\n".join(lines) + "\n")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The peak resident memory of a process (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mib(pid: int) -> float:
    """The proportional memory of a process now (shared pages split among their users), MiB."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def postgres_pids(server: PostgresServer) -> list[int]:
    """The postmaster and every process it started."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


class Sampler:
    """Samples the PostgreSQL processes' CPU and memory (their processes come and go, their memory is
    shared: the peak of the summed proportional memory is kept)."""

    def __init__(self, server: PostgresServer) -> None:
        self._server = server
        self._cpu: dict[int, tuple[float, float]] = {}  # pid → (first seen, last seen)
        self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._sample()
        self._thread.start()

    def _sample(self) -> None:
        total = 0.0
        for pid in postgres_pids(self._server):
            try:
                cpu = cpu_seconds(pid)
            except OSError:
                continue
            first, _ = self._cpu.get(pid, (cpu, cpu))
            self._cpu[pid] = (first, cpu)
            total += pss_mib(pid)
        self.peak_pss = max(self.peak_pss, total)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def stop(self) -> float:
        """Stop; the CPU seconds used since ``start``."""
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(last - first for first, last in self._cpu.values())


# -- phase 1: a bare subscriber on the backlog ------------------------------------------------------------


class Publisher:
    """One QoS 1 publisher; records when each message was handed to the broker's connection."""

    def __init__(self, host: str, port: int, client_id: str = "bench-country-desks") -> None:
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self._window = threading.BoundedSemaphore(5000)
        self.client.on_publish = lambda c, u, mid, rc, p: self._window.release()
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()

    def publish(self, traffic: Traffic, speedup: float, began: float | None = None) -> tuple[array, float]:
        """Publish everything (at ``speedup`` × simulated time from ``began``, epoch seconds, default now; or as
        fast as possible when 0); the publish times (epoch seconds) by message, and the time the broker
        acknowledged the last."""
        times = array("d", bytes(8 * len(traffic.payloads)))
        began = time.time() if began is None else began
        last = None
        for index, (topic, payload) in enumerate(zip(traffic.topics, traffic.payloads, strict=True)):
            if speedup:
                wait = began + traffic.offsets[index] / speedup - time.time()
                if wait > 0:
                    time.sleep(wait)
            self._window.acquire()
            times[index] = time.time()
            last = self.client.publish(topic, payload, qos=1)
        if last is not None:
            last.wait_for_publish(timeout=600)
        return times, time.time()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass(frozen=True, slots=True)
class Published:
    """What the publishers did: each message's publish time, when the broker acknowledged the last, and the
    publishers' own CPU seconds and peak memory (MiB, each process)."""

    times: array
    acked: float
    cpu_s: float
    peak_mib: list[float]


def publish(broker: MosquittoBroker, traffic: Traffic, speedup: float, processes: int, at: float) -> Published:
    """Publish the traffic from ``at`` (epoch seconds) on, ``speedup`` × simulated time (0: at once), through
    ``processes`` publishers. One paho client in one process sends about 1,300 msg/s here, where 17,000 desks
    send 5,400 msg/s on average over the bench's minute (9,700 in the burst): with several, each process
    publishes the desks whose (site, desk) falls to it, in their order, each with its own connection."""
    if processes <= 1:
        before = time.process_time()
        time.sleep(max(0.0, at - time.time()))
        publisher = Publisher(broker.host, broker.port)
        times, acked = publisher.publish(traffic, speedup, at if speedup else None)
        publisher.close()
        return Published(times, acked, time.process_time() - before, [peak_rss_mib(os.getpid())])
    shares: list[list[int]] = [[] for _ in range(processes)]
    for index, topic in enumerate(traffic.topics):
        shares[zlib.crc32(topic.rsplit("/", 1)[0].encode()) % processes].append(index)
    context = multiprocessing.get_context("spawn")  # not fork: this process has threads (paho, samplers)
    pipes, children = [], []
    for n, share in enumerate(shares):
        mine, theirs = context.Pipe(duplex=False)
        part = (
            [traffic.topics[i] for i in share],
            [traffic.payloads[i] for i in share],
            array("d", (traffic.offsets[i] for i in share)),
        )
        child = context.Process(
            target=publish_share, args=(broker.host, broker.port, n + 1, part, speedup, at, theirs), daemon=True
        )
        child.start()
        theirs.close()
        pipes.append(mine)
        children.append(child)
    times = array("d", bytes(8 * len(traffic.payloads)))
    acked, cpu, peaks = 0.0, 0.0, []
    for share, pipe, child in zip(shares, pipes, children, strict=True):
        part_times = array("d")
        part_times.frombytes(pipe.recv_bytes())
        part_acked, part_cpu, part_peak = pipe.recv()
        for index, moment in zip(share, part_times, strict=True):
            times[index] = moment
        acked, cpu = max(acked, part_acked), cpu + part_cpu
        peaks.append(part_peak)
        child.join(timeout=60)
    return Published(times, acked, cpu, peaks)


def publish_share(
    host: str, port: int, n: int, part: tuple[list[str], list[bytes], array], speedup: float, at: float, pipe: Any
) -> None:
    """One publisher process: its share of the traffic from ``at`` on; sends back its publish times, the time
    its last message was acknowledged, its CPU seconds and its peak memory."""
    topics, payloads, offsets = part
    publisher = Publisher(host, port, f"bench-country-desks-{n}")
    time.sleep(max(0.0, at - time.time()))
    times, acked = publisher.publish(
        Traffic(topics=topics, payloads=payloads, offsets=offsets), speedup, at if speedup else None
    )
    publisher.close()
    pipe.send_bytes(times.tobytes())
    pipe.send((acked, time.process_time(), peak_rss_mib(os.getpid())))
    pipe.close()


def bare_rate(broker: MosquittoBroker, traffic: Traffic, timeout: float, publishers: int) -> float:
    """Messages per second a bare paho subscriber drains from its queued session (bench_ingest's)."""

    def fill() -> None:
        publish(broker, traffic, 0, publishers, time.time())

    try:
        rate = ingest_bench.bare_rate(broker, len(traffic.payloads), fill, timeout)
    except RuntimeError as error:
        raise SystemExit(str(error)) from error
    forget_sessions(broker, ["bench-bare"])
    return rate


# -- phase 2: the hub workers ---------------------------------------------------------------------------


def run_worker(argv: list[str]) -> int:
    """A hub worker (``--worker NAME DATABASE HOST:PORT LOG``): ingest only; on ``stop`` on stdin it stops
    and writes the commit time of each batch, by the batch's ``received_at``, to LOG."""
    from hub.config import load_settings
    from hub.runtime import HubRuntime

    name, group, database, address, log = argv
    host, port = address.rsplit(":", 1)
    settings = load_settings().with_overrides(
        mqtt={"host": host, "port": int(port), "client_id": f"hub-{name}", "shared_group": group},
        database=database,
    )
    runtime = HubRuntime(settings)
    commits: dict[str, float] = {}
    process = runtime.processor.process

    def timed(batch: Any, now: datetime) -> Any:
        outcome = process(batch, now)  # returns once the batch's transaction is committed
        commits[now.astimezone(UTC).isoformat()] = time.time()
        return outcome

    runtime.processor.process = timed  # type: ignore[method-assign]
    runtime.start()
    if not runtime.ingest.wait_connected(60):
        print("not connected", flush=True)
        return 1
    print("ready", flush=True)

    def report() -> None:
        c = runtime.ingest.counters
        while True:
            print(f"handled {c.accepted + c.duplicates + c.rejected}", flush=True)
            time.sleep(0.5)

    threading.Thread(target=report, daemon=True).start()
    sys.stdin.readline()
    runtime.close()
    Path(log).write_text(json.dumps(commits))
    return 0


class Worker:
    """A hub worker process and what it reports."""

    def __init__(self, name: str, group: str, database: str, broker: MosquittoBroker, log: Path) -> None:
        self.log = log
        self.handled = 0
        self.client_id = f"hub-{name}"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker", name, group, database, broker.address, str(log)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.with_suffix(".log").open("w"),  # the worker's own log, beside its commit times
            text=True,
            cwd=ROOT,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        RUNNING.append(self.process)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("ready"):
                self._ready.set()
            elif line.startswith("handled "):
                self.handled = int(line.split()[1])

    def wait_ready(self, timeout: float) -> None:
        if not self._ready.wait(timeout):
            raise SystemExit("a hub worker did not connect")

    def stop(self) -> dict[str, float]:
        assert self.process.stdin is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.wait(timeout=120)
        RUNNING.remove(self.process)
        return dict(json.loads(self.log.read_text()))


def _count(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0])


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def start_workers(count: int, url: str, broker: MosquittoBroker, tmp: Path, run: str) -> list[Worker]:
    """``count`` hub workers of the phase ``run`` (their MQTT sessions) on the shared subscription, connected."""
    workers = []
    for n in range(count):
        name = f"{run}-w{n + 1}"
        local = f"{url}?local={tmp / f'{name}-local.db'}"
        workers.append(Worker(name, f"country-{run}", local, broker, tmp / f"{name}.json"))
    for worker in workers:
        worker.wait_ready(120)
    return workers


def retried(workers: list[Worker]) -> str:
    """How many batches the workers retried, as their logs say (a deadlock between two workers' transactions,
    which PostgreSQL breaks by failing one, is retried too)."""
    logs = [w.log.with_suffix(".log").read_text(errors="replace") for w in workers]
    retries = sum(text.count("failed; retrying") for text in logs)
    deadlocks = sum(text.count("deadlock detected") for text in logs)
    return f"{retries} ({deadlocks} of them after a deadlock)"


def forget_sessions(broker: MosquittoBroker, client_ids: list[str]) -> None:
    """End these clients' persistent sessions on the broker. A disconnected member of a shared subscription
    keeps getting its share of the messages, queued for it (Mosquitto 2.0): a phase's sessions must not
    take messages of the next."""
    for client_id in client_ids:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 0
        client.connect(broker.host, broker.port, clean_start=True, properties=properties)
        client.loop_start()
        client.disconnect()
        client.loop_stop()


def wait_recorded(workers: list[Worker], url: str, total: int, timeout: float) -> None:
    """Wait until the record holds ``total`` messages of this bench (at most ``timeout`` seconds); the
    workers' counters say when to start looking."""
    import psycopg

    deadline = time.monotonic() + timeout
    while sum(w.handled for w in workers) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM messages WHERE id LIKE %s", (f"{ID_PREFIX}%",)).fetchone()
            if row is not None and row[0] >= total:
                return
            time.sleep(1)


def hub_backlog_rate(
    broker: MosquittoBroker,
    server: PostgresServer,
    traffic: Traffic,
    count: int,
    timeout: float,
    tmp: Path,
    publishers: int,
) -> tuple[float, dict[str, Any]]:
    """Messages per second the workers drain from their queued sessions (the same backlog as the bare
    subscriber's), from the first batch received to the last committed; and what the record holds."""
    url = server.create_database("country_backlog")
    for worker in start_workers(count, url, broker, tmp, "backlog"):  # the sessions, then away
        worker.stop()
    times = publish(broker, traffic, 0, publishers, time.time()).times
    workers = start_workers(count, url, broker, tmp, "backlog")
    wait_recorded(workers, url, len(traffic.payloads), timeout)
    commits: dict[str, float] = {}
    spans = []
    for worker in workers:
        own = worker.stop()
        commits.update(own)
        done = sorted(own.values())
        pause = max((b - a for a, b in zip(done, done[1:], strict=False)), default=0.0)
        span = f"{len(own)} batches in {done[-1] - done[0]:.0f} s, longest pause {pause:.1f} s" if own else "none"
        spans.append(span)
    forget_sessions(broker, [w.client_id for w in workers])
    print(f"  worker batches retried: {retried(workers)}; each worker: {', '.join(spans)}")
    first = min(datetime.fromisoformat(received).timestamp() for received in commits)
    return len(traffic.payloads) / (max(commits.values()) - first), record(url, traffic, commits, times)


def hub_live(
    broker: MosquittoBroker,
    server: PostgresServer,
    traffic: Traffic,
    count: int,
    speedup: float,
    timeout: float,
    tmp: Path,
    start: datetime,
    publishers: int,
) -> dict[str, Any]:
    """Run the workers while the traffic is published from ``start`` on; what was recorded, how late, at
    what cost."""
    url = server.create_database("country_live")
    workers = start_workers(count, url, broker, tmp, "live")
    sampler = Sampler(server)
    sampler.start()
    broker_pid = broker._process.pid if broker._process else 0
    cpu_before = {w.process.pid: cpu_seconds(w.process.pid) for w in workers}
    broker_before = cpu_seconds(broker_pid)
    first = start.timestamp()
    sent = publish(broker, traffic, speedup, publishers, first)
    times, published = sent.times, sent.acked
    wait_recorded(workers, url, len(traffic.payloads), timeout)
    cpu = {w.process.pid: cpu_seconds(w.process.pid) - cpu_before[w.process.pid] for w in workers}
    peak = {w.process.pid: peak_rss_mib(w.process.pid) for w in workers}
    broker_cpu, broker_peak = cpu_seconds(broker_pid) - broker_before, peak_rss_mib(broker_pid)
    postgres_cpu = sampler.stop()
    commits: dict[str, float] = {}
    for worker in workers:
        commits.update(worker.stop())
    forget_sessions(broker, [w.client_id for w in workers])
    print(f"  worker batches retried: {retried(workers)}")
    figures = record(url, traffic, commits, times)
    drain = max(commits.values(), default=first) - first
    return figures | {
        "publish_s": published - first,
        "drain_s": drain,
        "cpu": {f"hub worker {n + 1}": (cpu[w.process.pid], peak[w.process.pid]) for n, w in enumerate(workers)}
        | {
            "mosquitto": (broker_cpu, broker_peak),
            "postgresql (all its processes)": (postgres_cpu, sampler.peak_pss),
            f"publisher{'s' if len(sent.peak_mib) > 1 else ''} ({len(sent.peak_mib)} process"
            f"{'es' if len(sent.peak_mib) > 1 else ''})": (sent.cpu_s, max(sent.peak_mib)),
        },
        "publishers": len(sent.peak_mib),
    }


def record(url: str, traffic: Traffic, commits: dict[str, float], times: array) -> dict[str, Any]:
    """What the record holds of the traffic: messages by kind, rows beyond the messages sent, visits, and
    each message's lag from its publication to the commit of its batch."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, kind, received_at FROM messages").fetchall()
        visits = _count(conn, "visits")
        alerts: dict[str, int] = dict(
            conn.execute("SELECT payload::json->>'alert', count(*) FROM alerts GROUP BY 1").fetchall()
        )
        derived = {
            kind: _count(conn, table)
            for kind, table in (("ticket", "ticket_events"), ("queue", "queue_samples"), ("rating", "ratings"))
        }
    lags: list[float] = []
    recorded: Counter[str] = Counter()
    for message_id, kind, received_at in rows:
        if not message_id.startswith(ID_PREFIX):
            continue
        recorded[kind] += 1
        committed = commits.get(received_at)
        if committed is not None:
            lags.append(committed - times[int(message_id[len(ID_PREFIX) :]) - 1])
    # Rows beyond the messages sent, in the raw record and in the tables made from it (keys are unique, so
    # anything here would be a message kept under two keys).
    twice = sum(max(0, recorded[k] - n) for k, n in traffic.kinds.items())
    twice += sum(max(0, rows - traffic.kinds[kind]) for kind, rows in derived.items())
    return {
        "recorded": recorded,
        "lost": len(traffic.payloads) - sum(recorded.values()),
        "twice": twice,
        "visits": visits,
        "alerts": alerts,
        "lags": lags,
        "complete": recorded == traffic.kinds and visits == traffic.tickets,
    }


def positive(text: str) -> float:
    """An argument that must be a number above 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def main() -> int:
    """Simulate, run both phases, print the figures; exit 1 when a message was lost or recorded twice."""
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return run_worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, default=1000, help="simulated desks (the country: 17000)")
    parser.add_argument("--minutes", type=float, default=10, help="simulated minutes")
    parser.add_argument("--burst", type=float, default=5, help="the morning burst's factor")
    parser.add_argument("--burst-start", type=float, default=1, help="simulated minute the burst begins")
    parser.add_argument("--burst-minutes", type=float, default=2, help="how long the burst lasts")
    parser.add_argument("--workers", type=int, default=2, help="hub workers on the shared subscription")
    parser.add_argument("--speedup", type=positive, default=5, help="simulated time / real time in the live phase")
    parser.add_argument("--timeout", type=float, default=1800, help="longest wait for each phase, seconds")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--no-live", action="store_true", help="stop after the backlog phases (the ratio only)")
    parser.add_argument(
        "--publishers",
        type=int,
        default=0,
        help="publisher processes (default: one per 4,250 desks, at least 1; 17,000 desks: 4)",
    )
    args = parser.parse_args()
    publishers = args.publishers or max(1, -(-args.desks // 4250))
    find_mosquitto()
    began = time.perf_counter()
    shape = (args.desks, args.minutes, args.burst, args.burst_start, args.burst_minutes, args.seed)
    traffic = simulate(*shape, datetime.now(UTC) - timedelta(minutes=args.minutes + 1), 1)  # the backlog: past
    simulated_s = time.perf_counter() - began
    total = len(traffic.payloads)
    print(f"desks: {args.desks} in {-(-args.desks // DESKS_PER_UNIT)} units, {args.minutes:g} simulated minutes")
    print(
        f"rates per desk: queue sample every {RATES.queue_every_s:g} s, heartbeat every {RATES.heartbeat_every_s:g} s, "
        f"{RATES.visits_per_s * 3600:.1f} visits/h × {len(TICKET_EVENTS)} ticket events, "
        f"{RATES.ratings_per_visit:.0%} rated: {RATES.per_desk:.3f} msg/s; burst ×{args.burst:g} from minute "
        f"{args.burst_start:g} for {args.burst_minutes:g} min (heartbeats excepted)"
    )
    print(
        f"messages: {total:,} ({dict(traffic.kinds)}), {traffic.tickets:,} visits; "
        f"simulated in {time.perf_counter() - began:.0f} s"
    )
    with ExitStack() as stack:
        stack.callback(end_workers)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        broker = stack.enter_context(production_broker(tmp / "broker"))
        server = stack.enter_context(PostgresServer())
        bare = bare_rate(broker, traffic, args.timeout, publishers)
        print(f"bare paho subscriber, queued backlog: {bare:,.0f} msg/s")
        rate, backlog = hub_backlog_rate(broker, server, traffic, args.workers, args.timeout, tmp, publishers)
        print(
            f"{args.workers} hub workers, same backlog: {rate:,.0f} msg/s, ratio hub / bare {rate / bare:.2f} "
            f"(recorded {sum(backlog['recorded'].values()):,}, lost {backlog['lost']}, "
            f"duplicates in the record {backlog['twice']})"
        )
        if args.no_live:
            print(f"whole run: {time.perf_counter() - began:.0f} s (no live phase)")
            return 0 if backlog["lost"] == 0 and backlog["twice"] == 0 and backlog["complete"] else 1
        # The same messages again, dated as they will be published, so that the live board judges them as
        # it would live (a desk silent for its heartbeat's time is offline).
        ready = datetime.now(UTC) + timedelta(seconds=simulated_s * 1.5 + 15)
        traffic = simulate(*shape, ready, args.speedup)
        live = hub_live(broker, server, traffic, args.workers, args.speedup, args.timeout, tmp, ready, publishers)
    pace = f"{args.speedup:g}× as fast as simulated time"
    due = args.minutes * 60 / args.speedup
    print(
        f"live: published {pace} by {live['publishers']} process(es) in {live['publish_s']:.0f} s "
        f"({total / live['publish_s']:,.0f} msg/s; the schedule asked {due:.0f} s), "
        f"all committed after {live['drain_s']:.0f} s"
    )
    print(
        f"sent {total:,}, recorded {sum(live['recorded'].values()):,}, lost {live['lost']}, "
        f"duplicates in the record {live['twice']}, visits {live['visits']:,} of {traffic.tickets:,}, "
        f"alerts kept {live['alerts']}"
    )
    lags = live["lags"]
    if lags:
        print(
            f"ingest lag publish → committed: p50 {percentile(lags, 0.5):.2f} s, p95 {percentile(lags, 0.95):.2f} s, "
            f"max {max(lags):.2f} s ({len(lags):,} messages timed)"
        )
    for name, (cpu, memory) in live["cpu"].items():
        print(f"  {name:32} CPU {cpu:7.1f} s ({cpu / live['drain_s']:.0%} of a core)  peak memory {memory:,.0f} MiB")
    print(f"whole run: {time.perf_counter() - began:.0f} s")
    ok = all(phase["lost"] == 0 and phase["twice"] == 0 and phase["complete"] for phase in (backlog, live))
    return 0 if ok else 1


def end_workers() -> None:
    """Kill the worker processes still running (the bench stopped early)."""
    for process in RUNNING:
        process.kill()


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # unwinds: the broker, PostgreSQL and the workers end


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    sys.exit(main())
