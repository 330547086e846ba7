"""Walk-outs and the wait before the ticket, from tracks in the queue, ticket-machine and service zones
(pure stage, hand-made tracks at 5 frames a second; every expected time is a literal read off the script)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.camera.queue_monitor import QueueMonitor, ReachedTicketMachine, WalkedOut
from edge.camera.tracking import Track
from edge.camera.zones import Zone, ZoneConfig, ZoneKind

WIDTH, HEIGHT = 640, 480
ZONES = {
    ZoneKind.QUEUE: [(0.1, 0.5), (0.6, 0.5), (0.6, 1.0), (0.1, 1.0)],
    ZoneKind.TICKET_MACHINE: [(0.45, 0.5), (0.6, 0.5), (0.6, 1.0), (0.45, 1.0)],
    ZoneKind.SERVICE: [(0.7, 0.5), (0.9, 0.5), (0.9, 1.0), (0.7, 1.0)],
}


def monitor(min_dwell_s: float = 30.0, ticket_machine: bool = True) -> QueueMonitor:
    kinds = [k for k in ZONES if ticket_machine or k is not ZoneKind.TICKET_MACHINE]
    zones = {k: Zone(k, ZoneConfig(polygon=ZONES[k]), WIDTH, HEIGHT) for k in kinds}
    return QueueMonitor(zones, walkout_min_dwell_s=min_dwell_s)


def track(track_id: int, x: float, t: float) -> Track:
    """A confirmed person whose feet stand at ``x`` (fraction of the width), 0.9 down the frame."""
    centre = x * WIDTH
    box = np.array([centre - 20, 200, centre + 20, 0.9 * HEIGHT], np.float32)
    return Track(track_id, box, first_seen=0.0, last_seen=t, hits=5, verified=True)


def play(queue: QueueMonitor, script: dict[int, list[tuple[float, float]]], until_s: float) -> list[object]:
    """Run frames every 0.2 s; ``script`` maps a track id to (from time, position) steps; None: gone."""
    events: list[object] = []
    for frame in range(int(until_s * 5) + 1):
        t = round(frame * 0.2, 1)
        live = []
        for track_id, steps in script.items():
            position = None
            for since, x in steps:
                if t >= since:
                    position = x
            if position is not None and position >= 0:
                live.append(track(track_id, position, t))
        events += queue.update(live, t)[1]
    return events


def test_a_person_who_gives_up_is_one_walk_out_with_the_time_spent_in_line() -> None:
    script = {
        # joins the line at 1.0 s, stands there, steps out of the line at 41.0 s and is gone at 42.0 s
        1: [(0.0, 0.05), (1.0, 0.2), (41.0, 0.03), (42.0, -1)],
        # a passer-by, 5 s in the line: under the minimum dwell
        2: [(3.0, 0.3), (8.0, 0.02), (9.0, -1)],
    }
    events = play(monitor(), script, until_s=45)
    walkouts = [e for e in events if isinstance(e, WalkedOut)]
    assert len(walkouts) == 1
    assert walkouts[0].in_line_s == pytest.approx(39.8)  # joined at 1.0 s, last frame in the line at 40.8 s
    assert walkouts[0].at == pytest.approx(40.8)


def test_the_wait_before_the_ticket_runs_from_joining_the_line_to_the_machine() -> None:
    script = {
        # joins at 2.0 s, moves up to the machine at 20.0 s, then to the counter at 30.0 s and leaves
        1: [(2.0, 0.3), (20.0, 0.5), (30.0, 0.8), (40.0, -1)],
    }
    events = play(monitor(), script, until_s=42)
    reached = [e for e in events if isinstance(e, ReachedTicketMachine)]
    assert [(e.wait_s, e.at) for e in reached] == [(pytest.approx(18.0), pytest.approx(20.0))]
    assert not [e for e in events if isinstance(e, WalkedOut)]  # served: not a walk-out


def test_a_person_who_took_a_ticket_and_left_the_camera_is_not_a_walk_out() -> None:
    script = {1: [(1.0, 0.3), (35.0, 0.5), (40.0, 0.02), (41.0, -1)]}  # takes a ticket, goes to sit down
    events = play(monitor(), script, until_s=43)
    assert [type(e) for e in events if isinstance(e, WalkedOut | ReachedTicketMachine)] == [ReachedTicketMachine]


def test_without_a_ticket_machine_zone_only_walk_outs_are_seen() -> None:
    script = {1: [(1.0, 0.5), (40.0, 0.02), (41.0, -1)]}  # stands where the machine would be, then leaves
    events = play(monitor(ticket_machine=False), script, until_s=43)
    walkouts = [e for e in events if isinstance(e, WalkedOut)]
    assert [e.in_line_s for e in walkouts] == [pytest.approx(38.8)]  # 1.0 s → last frame in line 39.8 s
    assert not [e for e in events if isinstance(e, ReachedTicketMachine)]


def test_the_camera_settings_in_the_line_docs_are_valid() -> None:
    import re
    from pathlib import Path

    import yaml

    from edge.camera.pipeline import CameraSettings

    text = (Path(__file__).resolve().parents[3] / "docs" / "line-camera.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(camera:.*?)```", text, flags=re.S)
    assert block is not None
    settings = CameraSettings.model_validate(yaml.safe_load(block.group(1))["camera"])
    assert settings.zones.ticket_machine is not None and settings.line.walkout_min_dwell_s == 30
