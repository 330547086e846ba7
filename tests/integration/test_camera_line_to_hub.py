"""Walk-outs and the wait before the ticket, end to end: the desk agent's camera on a composite scene with a
labelled walk-out and labelled pre-ticket waits, through a real Mosquitto, into the hub's API.

The labels are literal numbers written here by hand. They were read once from the scene renderer's own record
of where each person's feet stood in each frame (devtools/scenes.py, not the code under test) and checked
against the choreography (0.3 frame widths a second, 5 frames a second):

- person 2 joins the back of the line at 4.4 s, gives up at 13.0 s and walks out: one walk-out, 8.6 s in line;
- person 0 joins at 0.4 s and reaches the ticket machine at the head of the line at 1.8 s: 1.4 s;
- person 1 joins at 2.4 s and waits behind person 0 until the desk opens; reaches the machine at 16.6 s: 14.2 s;
- person 3 joins at 20.4 s and reaches the machine at 23.0 s: 2.6 s.

Tolerance: two frames (0.4 s) on each duration, one frame at each end (the detector's box and the drawn box
may put the feet one frame apart on a zone's edge).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from devtools.mosquitto import MosquittoBroker
from devtools.scenes import LINE_SCENE, ZONES, make_scenes
from edge.agent import DeskAgent
from edge.config import EdgeSettings
from tests.support.hub_server import HubServer
from tests.support.require import require

REPO_ROOT = Path(__file__).resolve().parents[2]
SITE, DESK = "bn-gia-binh", "q02"
WALKOUT_IN_LINE_S = 8.6
PRE_TICKET_WAITS_S = (1.4, 14.2, 2.6)
TOLERANCE_S = 0.4


def wait_for_line(hub: HubServer, timeout: float = 240) -> dict[str, Any]:
    """The unit's day figures once the camera's four line events have arrived (the scene is processed as fast
    as the CPU allows: about 225 frames)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = hub.get(f"/api/v1/sites/{SITE}/stats")
        line = stats["line"]
        if line["walkouts"] + line["pre_ticket_waits"] >= 4 or time.monotonic() > deadline:
            return stats
        time.sleep(0.5)


def test_a_walk_out_and_the_waits_before_the_ticket_reach_the_hub(own_broker: MosquittoBroker, tmp_path: Path) -> None:
    wheel = sorted((REPO_ROOT / ".cache" / "test-assets").glob("ultralytics-*.whl"))
    require(bool(wheel), "test assets (the ultralytics wheel in .cache/test-assets/)", "scripts/fetch_test_assets.sh")
    video = make_scenes(REPO_ROOT, tmp_path / "scenes", (LINE_SCENE,))[0]
    settings = EdgeSettings.model_validate(
        {
            "site": SITE,
            "desk": DESK,
            "mqtt": {"host": own_broker.host, "port": own_broker.port},
            "spool": {"path": str(tmp_path / "outbox.db")},
            "camera": {
                "source": {"type": "file", "path": str(video)},
                "zones": {
                    "queue": {"polygon": ZONES["queue"]},
                    "service": {"polygon": ZONES["service"]},
                    "ticket_machine": {"polygon": ZONES["ticket_machine"]},
                },
                "emotion": {"enabled": False},
                "line": {"walkout_min_dwell_s": 5},
            },
        }
    )
    with HubServer(own_broker, tmp_path / "hub.db", client_id="hub-camera-line") as hub:
        agent = DeskAgent(settings)
        agent.start()
        try:
            stats = wait_for_line(hub)
            time.sleep(1)  # nothing more should come: the scene has exactly four such people
            stats = hub.get(f"/api/v1/sites/{SITE}/stats")
            live = hub.get(f"/api/v1/sites/{SITE}/live")
            hours = hub.get(f"/api/v1/sites/{SITE}/hours")
        finally:
            agent.close()

    line = stats["line"]
    assert line["walkouts"] == 1
    assert abs(line["walkout_mean_in_line_s"] - WALKOUT_IN_LINE_S) <= TOLERANCE_S
    assert line["pre_ticket_waits"] == 3
    assert abs(line["pre_ticket_wait_mean_s"] - sum(PRE_TICKET_WAITS_S) / 3) <= TOLERANCE_S
    assert abs(line["pre_ticket_wait_median_s"] - 2.6) <= TOLERANCE_S
    desk = next(d for d in stats["desks"] if d["desk"] == DESK)
    assert (desk["line"]["walkouts"], desk["line"]["pre_ticket_waits"]) == (1, 3)

    card = next(d for d in live["desks"] if d["desk"] == DESK)
    assert (card["walkouts_today"], card["pre_ticket_waits_today"]) == (1, 3)
    in_hours = [h["line"] for h in hours["hours"] if h["line"]["walkouts"] or h["line"]["pre_ticket_waits"]]
    assert sum(h["walkouts"] for h in in_hours) == 1 and sum(h["pre_ticket_waits"] for h in in_hours) == 3
