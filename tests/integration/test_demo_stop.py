"""`make demo` stops on Ctrl-C and leaves nothing running: the terminal's Ctrl-C (SIGINT to the demo's whole
process group: the demo, the broker, the hub, the camera desk, the simulator) ends every process it started, and
the demo exits 0. The real `scripts/demo.py`, its state in a temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def group_members(group: int) -> list[str]:
    """The processes still in a process group (from /proc), as 'pid command'."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, …
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(f"{entry.name} {command.strip()}")
    return found


def test_ctrl_c_stops_the_demo_and_every_process_it_started(tmp_path: Path) -> None:
    log = tmp_path / "demo.out"
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "demo.py")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ONESTOP_DEMO_STATE": str(tmp_path / "demo")},
            start_new_session=True,  # its own process group, as the terminal's foreground group would be
            # as a shell without job control starts a background command (some CI runners): SIGINT ignored
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    group = demo.pid
    try:
        wait_for(lambda: demo.poll() is not None or "Press Ctrl-C to stop." in log.read_text(), 180, "the demo up")
        assert demo.poll() is None, log.read_text()[-3000:]
        started = group_members(group)
        assert any("onestop-hub" in p for p in started) and any("mosquitto" in p for p in started), started
        assert any("onestop-sim" in p for p in started) and any("onestop-edge" in p for p in started), started
        os.killpg(group, signal.SIGINT)  # what Ctrl-C in the terminal does
        status = demo.wait(timeout=60)
        wait_for(lambda: not group_members(group), 30, f"the demo's processes to end: {group_members(group)}")
    finally:
        if demo.poll() is None or group_members(group):
            os.killpg(group, signal.SIGKILL)
            demo.wait()
    assert status == 0, log.read_text()[-3000:]
    hub_log = (tmp_path / "demo" / "hub.log").read_text()
    assert "hub stopped" in hub_log and "Traceback" not in hub_log, hub_log[-3000:]
