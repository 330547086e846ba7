"""The desk agent with its camera on a sample scene, through a real Mosquitto, into the hub: queue figures
from the camera and one emotion message per service arrive; nothing else leaves the desk."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from devtools.mosquitto import MosquittoBroker
from devtools.scenes import make_scenes
from edge.agent import DeskAgent
from edge.config import EdgeSettings
from tests.support.hub_server import HubServer
from tests.support.require import require

REPO_ROOT = Path(__file__).resolve().parents[2]


def count(database: Path, sql: str) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_camera_figures_and_emotions_reach_the_hub(own_broker: MosquittoBroker, tmp_path: Path) -> None:
    wheel = sorted((REPO_ROOT / ".cache" / "test-assets").glob("ultralytics-*.whl"))
    require(bool(wheel), "test assets (the ultralytics wheel in .cache/test-assets/)", "scripts/fetch_test_assets.sh")
    video = make_scenes(REPO_ROOT, tmp_path / "scenes")[0]
    truth = json.loads(video.with_suffix(".json").read_text())
    settings = EdgeSettings.model_validate(
        {
            "site": "bn-gia-binh",
            "desk": "q02",
            "mqtt": {"host": own_broker.host, "port": own_broker.port},
            "spool": {"path": str(tmp_path / "outbox.db")},
            "queue_interval_s": 1,
            "camera": {
                "source": {"type": "file", "path": str(video), "realtime": True},
                "zones": {
                    "queue": {"polygon": truth["zones"]["queue"]},
                    "service": {"polygon": truth["zones"]["service"]},
                },
            },
        }
    )
    database = tmp_path / "hub.db"
    with HubServer(own_broker, database, client_id="hub-camera") as hub:
        agent = DeskAgent(settings)
        started = time.monotonic()
        agent.start()
        # At least the first 20 s of the scene (played in real time; a loaded machine plays it slower), then
        # until the services begun by then have sent their emotion message, with a generous bound.
        served = sum(1 for p in truth["people"] if p["enter_service_s"] + 10 < 20)
        deadline = started + 120
        while time.monotonic() - started < 20 or not (
            count(database, "SELECT COUNT(*) FROM messages WHERE kind = 'emotion'") >= served
            and count(database, "SELECT COUNT(*) FROM queue_samples WHERE source = 'camera'") >= 5
        ):
            assert time.monotonic() < deadline, "the camera's figures did not reach the hub within 120 s"
            time.sleep(0.2)
        live = hub.get("/api/v1/sites/bn-gia-binh/live")
        elapsed = time.monotonic() - started
        agent.close()
    desk = next(d for d in live["desks"] if d["desk"] == "q02")
    assert desk["queue_source"] == "camera"
    # The scene is at most `elapsed` seconds in (less on a slow machine); its queue over the seconds it may be at:
    fps = truth["fps"]
    window = truth["queue_length"][int(15 * fps) : int(elapsed * fps)]
    assert min(window) - 1 <= desk["queue_length"] <= max(window) + 1
    with sqlite3.connect(database) as conn:
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM messages WHERE site = 'bn-gia-binh' GROUP BY kind"))
        camera_samples = conn.execute("SELECT COUNT(*) FROM queue_samples WHERE source = 'camera'").fetchone()[0]
    assert served >= 1 and kinds.get("emotion", 0) >= served
    assert camera_samples >= 5
    assert set(kinds) <= {"queue", "emotion", "heartbeat", "status"}
