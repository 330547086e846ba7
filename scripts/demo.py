"""The demo: a private Mosquitto on loopback, the hub, and the simulated desks of the sample province.

Run with ``make demo``; stops everything on Ctrl-C. State lives under ``var/demo/`` and is kept between
runs, so the record grows like a real one (``make clean`` removes it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.mosquitto import MosquittoBroker, free_port  # noqa: E402
from devtools.scenes import make_scenes  # noqa: E402

CAMERA_SITE, CAMERA_DESK = "bn-hcc", "q01"

VENV_BIN = ROOT / ".venv" / "bin"


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def start_camera_desk(state: Path, broker: MosquittoBroker) -> subprocess.Popen[bytes]:
    """One real desk agent whose camera replays a sample scene in a loop (people from a registry package)."""
    video = make_scenes(ROOT, state / "scenes")[0]
    zones = json.loads(video.with_suffix(".json").read_text())["zones"]
    config = state / "camera-desk.yaml"
    config.write_text(
        f"site: {CAMERA_SITE}\ndesk: {CAMERA_DESK}\nstaff: cb-demo\n"
        f"mqtt: {{host: {broker.host}, port: {broker.port}}}\n"
        f"spool: {{path: {state / 'camera-desk-outbox.db'}}}\n"
        "queue_interval_s: 5\n"
        "camera:\n"
        f"  source: {{type: file, path: {video}, loop: true, realtime: true}}\n"
        f"  zones: {{queue: {{polygon: {zones['queue']}}}, service: {{polygon: {zones['service']}}}}}\n"
    )
    log = open(state / "camera-desk.log", "ab")  # noqa: SIM115
    return subprocess.Popen([str(VENV_BIN / "onestop-edge"), "--config", str(config)], stdout=log, stderr=log)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminal_foreground() -> Iterator[None]:
    """While the demo runs, its own process group is the terminal's foreground group.

    Ctrl-C then interrupts the demo (and the processes it started), which stops everything and exits 0; make,
    left in its own group, sees that 0. Without this make gets the SIGINT too, dies of it and reports the
    stop as a failure (exit status 130). Nothing changes when there is no terminal (CI, a pipe).
    """
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        yield
        return
    previous = None
    try:
        previous = os.tcgetpgrp(tty)
        if previous == os.getpgrp() and os.getpid() != os.getpgrp():
            os.setpgid(0, 0)
            _set_foreground(tty, os.getpgrp())
        else:
            previous = None
    except OSError:
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            with contextlib.suppress(OSError):
                _set_foreground(tty, previous)
        os.close(tty)


def _set_foreground(tty: int, group: int) -> None:
    # A process outside the foreground group that changes it gets SIGTTOU unless it ignores it.
    saved = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, group)
    finally:
        signal.signal(signal.SIGTTOU, saved)


def main() -> int:
    """Start broker, hub and simulator; print the addresses; wait for Ctrl-C."""
    state = Path(os.environ.get("ONESTOP_DEMO_STATE") or ROOT / "var" / "demo")  # a test runs it elsewhere
    state.mkdir(parents=True, exist_ok=True)
    # Ctrl-C stops the demo however it was started: a shell that runs a command in the background without job
    # control (`( make demo & )`, some CI runners) hands it SIGINT ignored, and Python then leaves it ignored,
    # while the broker and the hub install their own handlers and stop: the demo saw "a process stopped".
    signal.signal(signal.SIGINT, signal.default_int_handler)
    broker = MosquittoBroker(workdir=state / "broker").start()
    web_port = 8080 if _port_free(8080) else free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        hub_log = open(state / "hub.log", "ab")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "onestop-hub"),
                    "serve",
                    "--broker",
                    broker.address,
                    "--database",
                    f"sqlite:///{state / 'onestop.db'}",
                    "--listen",
                    f"127.0.0.1:{web_port}",
                ],
                stdout=hub_log,
                stderr=hub_log,
            )
        )
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/v1/health", timeout=1)
                break
            except OSError:
                time.sleep(0.3)
        else:
            print(f"the hub did not start; see {state / 'hub.log'}", file=sys.stderr)
            return 1
        processes.append(start_camera_desk(state, broker))
        sim_log = open(state / "simulator.log", "ab")  # noqa: SIM115
        processes.append(
            subprocess.Popen(
                [
                    str(VENV_BIN / "onestop-sim"),
                    "--broker",
                    broker.address,
                    "--always-open",
                    "--backfill-minutes",
                    "90",
                    "--seed",
                    str(int(time.time())),
                    "--skip-desk",
                    f"{CAMERA_SITE}/{CAMERA_DESK}",
                ],
                stdout=sim_log,
                stderr=sim_log,
            )
        )
        print(
            "\nOne-Stop Monitor is running (simulated desks of Bắc Ninh province).\n"
            f"  Dashboard:        {base}/\n"
            f"  API docs:         {base}/docs\n"
            f"  Today's figures:  {base}/api/v1/sites/bn-hcc/stats\n"
            f"  Camera desk:      {CAMERA_SITE}/{CAMERA_DESK}, the real camera pipeline on a sample video\n"
            f"  MQTT broker:      {broker.address} (loopback only)\n"
            f"  Logs and data:    {state}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print("a demo process stopped; see the logs in", state, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…")
        return 0
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        broker.stop()


if __name__ == "__main__":
    with terminal_foreground():
        status = main()
    sys.exit(status)
