"""The desk camera on sample scenes with ground truth: queue length and each person's wait, as the issue
asks (length right in at least 95 % of frames, each wait within 10 % of the truth), plus the pure stages."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from devtools.scenes import SCENES, make_scenes
from edge.camera.detections import Detections
from edge.camera.pipeline import CameraPipeline, CameraSettings
from edge.camera.queue_monitor import QueueMonitor, ServiceEnded, ServiceStarted, WaitMeasured
from edge.camera.sources import FileSourceSettings, SourceError, VideoFileSource
from edge.camera.tracking import Tracker
from edge.camera.zones import Zone, ZoneConfig, ZoneKind
from protocol.messages import EmotionMessage

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def scenes(ultralytics_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The sample scenes rendered once per session (the people come from the wheel, never from git)."""
    return make_scenes(REPO_ROOT, tmp_path_factory.mktemp("scenes"))


def run_scene(video: Path, **overrides: Any) -> tuple[dict[str, Any], list[int], list[float], list[EmotionMessage]]:
    truth = json.loads(video.with_suffix(".json").read_text())
    settings = CameraSettings.model_validate(
        {
            "source": {"type": "file", "path": str(video)},
            "zones": {"queue": {"polygon": truth["zones"]["queue"]}, "service": {"polygon": truth["zones"]["service"]}},
            **overrides,
        }
    )
    emotions: list[EmotionMessage] = []
    pipeline = CameraPipeline.build(settings, "bn-hcc", "q01", on_emotion=emotions.append)
    source = VideoFileSource(settings.source)  # type: ignore[arg-type]
    lengths: list[int] = []
    waits: list[float] = []
    while (frame := source.read()) is not None:
        snapshot, events = pipeline.process(frame)
        lengths.append(snapshot.length)
        waits += [event.wait_s for event in events if isinstance(event, WaitMeasured)]
    source.close()
    return truth, lengths, waits, emotions


@pytest.mark.parametrize("name", [spec.name for spec in SCENES])
def test_queue_length_and_waits_match_the_truth(scenes: list[Path], name: str) -> None:
    video = next(v for v in scenes if v.stem == name)
    truth, lengths, waits, emotions = run_scene(video)
    assert len(lengths) == truth["frames"]
    right = sum(a == b for a, b in zip(lengths, truth["queue_length"], strict=True)) / len(lengths)
    assert right >= 0.95, f"queue length right in {right:.1%} of frames"
    true_waits = [p["wait_s"] for p in sorted(truth["people"], key=lambda p: p["enter_service_s"])]
    assert len(waits) == len(true_waits)
    for measured, expected in zip(waits, true_waits, strict=True):
        assert measured == pytest.approx(expected, rel=0.10)
    # One emotion message per finished service, each a valid protocol message from the service zone only.
    served = sum(1 for p in truth["people"] if p["enter_service_s"] < truth["frames"] / truth["fps"] - 12)
    assert served >= 2 and len(emotions) >= served - 1
    assert all(m.frames >= 1 and abs(sum(m.probabilities.values()) - 1) < 0.02 for m in emotions)


def test_emotion_can_be_switched_off(scenes: list[Path]) -> None:
    _, _, waits, emotions = run_scene(scenes[0], emotion={"enabled": False})
    assert waits and emotions == []


def box(x: float, y: float = 400, w: float = 80, h: float = 240) -> list[float]:
    return [x - w / 2, y - h, x + w / 2, y]


def people(*centres: float, confidence: float = 0.8) -> Detections:
    return Detections([box(c) for c in centres], [confidence] * len(centres), [0] * len(centres))


def test_tracker_keeps_ids_through_a_missed_detection_and_a_fast_walk() -> None:
    tracker = Tracker()
    first = tracker.update(people(100, 300), 0.0)
    ids = {round(float((t.xyxy[0] + t.xyxy[2]) / 2)): t.id for t in first}
    tracker.update(people(100), 0.2)  # the person at 300 is missed for one frame
    again = tracker.update(people(150, 300), 0.4)  # the one at 100 walked 50 px: IoU low, still the same
    by_centre = {round(float((t.xyxy[0] + t.xyxy[2]) / 2)): t.id for t in again}
    assert by_centre[300] == ids[300] and by_centre[150] == ids[100]
    assert len({t.id for t in again}) == 2


def monitor() -> QueueMonitor:
    queue = ZoneConfig(polygon=[(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)])
    service = ZoneConfig(polygon=[(0.6, 0.5), (1.0, 0.5), (1.0, 1.0), (0.6, 1.0)])
    return QueueMonitor(
        {
            ZoneKind.QUEUE: Zone(ZoneKind.QUEUE, queue, 640, 480),
            ZoneKind.SERVICE: Zone(ZoneKind.SERVICE, service, 640, 480),
        }
    )


def test_wait_ends_when_the_person_reaches_the_service_zone() -> None:
    tracker, queue = Tracker(), monitor()
    events = []
    for step in range(10):  # waits in the queue (x = 200) for 2 s
        snapshot, happened = queue.update(tracker.update(people(200), step * 0.2), step * 0.2)
        events += happened
    assert snapshot.length == 1 and snapshot.head_wait_s == pytest.approx(1.6)
    for step, x in enumerate((250, 300, 350, 400, 450), start=10):  # walks to the counter, across a gap
        events += queue.update(tracker.update(people(x), step * 0.2), step * 0.2)[1]
    assert [type(e) for e in events] == [WaitMeasured, ServiceStarted]
    assert events[0].wait_s == pytest.approx(2.4)  # counted from 0.2 s (confirmed) to 2.6 s (at the counter)
    snapshot, happened = queue.update(tracker.update(people(), 20.0), 20.0)  # left: service over
    assert snapshot.length == 0 and [type(e) for e in happened] == [ServiceEnded]


def test_a_single_false_detection_is_never_counted() -> None:
    tracker, queue = Tracker(), monitor()
    snapshot, _ = queue.update(tracker.update(people(200), 0.0), 0.0)
    assert snapshot.length == 0  # one frame is not a person yet
    snapshot, _ = queue.update(tracker.update(people(), 0.2), 0.2)
    assert snapshot.length == 0


@pytest.mark.parametrize(
    ("polygon", "message"),
    [
        ([(0.1, 0.1), (0.2, 0.2)], "at least 3 corners"),
        ([(0.1, 0.1), (1.2, 0.1), (0.5, 0.9)], "outside the frame"),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "no area"),
    ],
)
def test_a_badly_drawn_zone_is_refused(polygon: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ZoneConfig(polygon=polygon)


def test_missing_video_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(FileSourceSettings(path=tmp_path / "nope.avi"))


def test_looped_file_keeps_time_running(scenes: list[Path]) -> None:
    source = VideoFileSource(FileSourceSettings(path=scenes[0], loop=True))
    frames = int(json.loads(scenes[0].with_suffix(".json").read_text())["frames"])
    times = [source.read().t for _ in range(frames + 3)]  # type: ignore[union-attr]
    assert all(b > a for a, b in zip(times, times[1:], strict=False)) and not source.finished
    source.close()
    assert np.isclose(times[1] - times[0], 0.2)


def test_a_missing_camera_is_retried_and_reported_unhealthy() -> None:
    from edge.camera.sources import CaptureSource

    source = CaptureSource("/dev/video-that-is-not-there", max_backoff_s=0.2)
    deadline = time.monotonic() + 3
    while source.health().reconnects < 2 and time.monotonic() < deadline:
        assert source.read() is None  # no frame, no exception: the agent keeps running on its sensors
    health = source.health()
    assert health.reconnects >= 2 and not health.ok and health.frames == 0
    source.close()
