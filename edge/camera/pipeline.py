"""The desk camera, as a sequence of small stages: frame → people (detector) → tracks → zones → queue
figures and events → (for the citizen being served) face → emotion, averaged over the service.

Only numbers leave this module: the queue snapshot (to the agent's queue fusion) and one ``emotion``
message per finished service. Frames and face crops exist only in memory while a frame is processed.
The face search runs only inside the box of the person standing in the service zone, on the citizen's
side of the counter; people in the staff zone are counted for presence and never looked at further.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from edge.camera.detections import Detections
from edge.camera.detectors import Detector, NanoDetConfig, SsdLiteConfig, build_detector
from edge.camera.detectors.config import BlazeFaceConfig
from edge.camera.emotion import EMOTION_CLASSES, EmotionClassifier, valence
from edge.camera.queue_monitor import (
    QueueEvent,
    QueueMonitor,
    QueueSnapshot,
    ReachedTicketMachine,
    ServiceEnded,
    WalkedOut,
)
from edge.camera.sources import Frame, FrameSource, SourceSettings
from edge.camera.tracking import Tracker
from edge.camera.zones import Zone, ZoneConfig, ZoneKind
from protocol.messages import EmotionMessage, LineEvent, LineMessage

logger = logging.getLogger(__name__)

MAX_LINE_S = 12 * 3600  # the protocol's bound on a line message's duration


class CameraZones(BaseModel):
    """The polygons a technician draws on the camera image (0–1 coordinates)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: ZoneConfig = Field(description="Where citizens wait in line.")
    service: ZoneConfig = Field(description="In front of the counter, where the citizen being served stands.")
    staff: ZoneConfig | None = Field(None, description="Behind the counter: presence of an officer only.")
    ticket_machine: ZoneConfig | None = Field(
        None,
        description="Around the ticket machine, where it stands inside the queue zone: the wait before the ticket.",
    )


class LineSettings(BaseModel):
    """Walk-outs and the wait before the ticket: counts and durations only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Send walk-outs and pre-ticket waits (kind line).")
    walkout_min_dwell_s: float = Field(
        30, ge=0, le=3600, description="A person must stand in the line this long before leaving counts as a walk-out."
    )


class EmotionSettings(BaseModel):
    """Emotion of the citizen being served (never of the staff)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Switch emotion reading off entirely.")
    every_n_frames: int = Field(3, ge=1, description="Read the face every n-th processed frame.")
    min_frames: int = Field(1, ge=1, description="Send an emotion message only with at least this many readings.")
    face: BlazeFaceConfig = Field(
        default_factory=lambda: BlazeFaceConfig(type="blazeface"), description="The face detector."
    )


class CameraSettings(BaseModel):
    """The desk camera: source, person detector, zones, emotion."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: SourceSettings = Field(description="Where frames come from (file, v4l2, rtsp, csi).")
    detector: NanoDetConfig | SsdLiteConfig = Field(
        default_factory=lambda: NanoDetConfig(type="nanodet"),
        discriminator="type",
        description="Person detector: nanodet (accurate) or ssdlite (fast).",
    )
    zones: CameraZones = Field(description="Queue, service and optional staff zones.")
    emotion: EmotionSettings = Field(default_factory=EmotionSettings, description="Citizen emotion.")
    line: LineSettings = Field(default_factory=LineSettings, description="Walk-outs and the wait before the ticket.")
    max_fps: float = Field(5, gt=0, le=30, description="Process at most this many frames a second.")
    snapshot_interval_s: float = Field(1, gt=0, description="How often the queue figures go to the agent.")


@dataclass(frozen=True, slots=True)
class CameraFigures:
    """Health figures of the pipeline for the heartbeat."""

    fps: float
    model_latency_ms: float
    camera_ok: bool


class ServiceEmotion:
    """Averages the emotion of each citizen over their service."""

    def __init__(self, faces: Detector, classifier: EmotionClassifier) -> None:
        self._faces = faces
        self._classifier = classifier
        self._sums: dict[int, npt.NDArray[np.float64]] = {}
        self._counts: dict[int, int] = {}

    def observe(self, track_id: int, image: npt.NDArray[np.uint8], box: npt.NDArray[np.float32]) -> bool:
        """Read the face in the upper part of a person's box; True when a face was read."""
        height, width = image.shape[:2]
        x1, y1, x2, y2 = (int(v) for v in box)
        head_bottom = y1 + int((y2 - y1) * 0.45)
        x1, y1, x2, head_bottom = max(0, x1), max(0, y1), min(width, x2), min(height, head_bottom)
        if x2 - x1 < 8 or head_bottom - y1 < 8:
            return False
        region = np.ascontiguousarray(image[y1:head_bottom, x1:x2])
        faces: Detections = self._faces.detect(region)
        if len(faces) == 0:
            return False
        areas = (faces.xyxy[:, 2] - faces.xyxy[:, 0]) * (faces.xyxy[:, 3] - faces.xyxy[:, 1])
        probabilities = self._classifier.classify(region, faces[[int(np.argmax(areas))]])[0]
        self._sums[track_id] = self._sums.get(track_id, np.zeros(len(EMOTION_CLASSES))) + probabilities
        self._counts[track_id] = self._counts.get(track_id, 0) + 1
        return True

    def finish(self, track_id: int) -> tuple[int, npt.NDArray[np.float64]] | None:
        """Readings and mean probabilities of a finished service (and forget them)."""
        count = self._counts.pop(track_id, 0)
        total = self._sums.pop(track_id, None)
        if not count or total is None:
            return None
        return count, total / count


class CameraPipeline:
    """Runs the stages on each frame and hands numbers to the agent."""

    def __init__(
        self,
        settings: CameraSettings,
        site: str,
        desk: str,
        detector: Detector,
        emotion: ServiceEmotion | None,
        on_snapshot: Callable[[QueueSnapshot], None] = lambda s: None,
        on_emotion: Callable[[EmotionMessage], None] = lambda m: None,
        on_line: Callable[[LineMessage], None] = lambda m: None,
    ) -> None:
        self.settings = settings
        self._on_line = on_line
        self._site, self._desk = site, desk
        self._detector = detector
        self._emotion = emotion
        self._on_snapshot = on_snapshot
        self._on_emotion = on_emotion
        self._tracker = Tracker()
        self._monitor: QueueMonitor | None = None
        self._frames = 0
        self._last_snapshot_at: float | None = None
        self._latencies: list[float] = []
        self._frame_times: list[float] = []
        self.snapshot: QueueSnapshot | None = None

    @classmethod
    def build(
        cls,
        settings: CameraSettings,
        site: str,
        desk: str,
        on_snapshot: Callable[[QueueSnapshot], None] = lambda s: None,
        on_emotion: Callable[[EmotionMessage], None] = lambda m: None,
        on_line: Callable[[LineMessage], None] = lambda m: None,
    ) -> CameraPipeline:
        """Load the models the settings name (each warms up once)."""
        emotion = None
        if settings.emotion.enabled:
            emotion = ServiceEmotion(build_detector(settings.emotion.face), EmotionClassifier())
        detector = build_detector(settings.detector)
        return cls(settings, site, desk, detector, emotion, on_snapshot, on_emotion, on_line)

    def _zones(self, width: int, height: int) -> dict[ZoneKind, Zone]:
        configured = {ZoneKind.QUEUE: self.settings.zones.queue, ZoneKind.SERVICE: self.settings.zones.service}
        if self.settings.zones.staff is not None:
            configured[ZoneKind.STAFF] = self.settings.zones.staff
        if self.settings.zones.ticket_machine is not None:
            configured[ZoneKind.TICKET_MACHINE] = self.settings.zones.ticket_machine
        return {kind: Zone(kind, zone, width, height) for kind, zone in configured.items()}

    def process(self, frame: Frame) -> tuple[QueueSnapshot, list[QueueEvent]]:
        """Run every stage on one frame; return the queue now and what happened in this frame."""
        if self._monitor is None:
            height, width = frame.image.shape[:2]
            self._monitor = QueueMonitor(
                self._zones(width, height), walkout_min_dwell_s=self.settings.line.walkout_min_dwell_s
            )
        started = time.perf_counter()
        people = self._detector.detect(frame.image)
        self._latencies.append((time.perf_counter() - started) * 1000)
        tracks = self._tracker.update(people, frame.t)
        snapshot, events = self._monitor.update(tracks, frame.t)
        if self._emotion is not None and self._frames % self.settings.emotion.every_n_frames == 0:
            boxes = {track.id: track.xyxy for track in tracks}
            for track_id in snapshot.in_service:
                if track_id in boxes:
                    self._emotion.observe(track_id, frame.image, boxes[track_id])
        for event in events:
            if isinstance(event, ServiceEnded) and self._emotion is not None:
                self._publish_emotion(event.track_id)
            elif isinstance(event, WalkedOut | ReachedTicketMachine) and self.settings.line.enabled:
                self._publish_line(event)
        self._frames += 1
        self._frame_times.append(time.perf_counter())
        self.snapshot = snapshot
        if self._last_snapshot_at is None or frame.t - self._last_snapshot_at >= self.settings.snapshot_interval_s:
            self._last_snapshot_at = frame.t
            self._on_snapshot(snapshot)
        return snapshot, events

    def _publish_emotion(self, track_id: int) -> None:
        assert self._emotion is not None
        result = self._emotion.finish(track_id)
        if result is None or result[0] < self.settings.emotion.min_frames:
            return
        count, mean = result
        probabilities = {name: round(float(p), 4) for name, p in zip(EMOTION_CLASSES, mean, strict=True)}
        drift = 1.0 - sum(probabilities.values())  # rounding: keep the sum at 1 for the protocol's check
        probabilities["neutral"] = round(probabilities["neutral"] + drift, 4)
        self._on_emotion(
            EmotionMessage(
                site=self._site,
                desk=self._desk,
                frames=count,
                probabilities=probabilities,
                valence=max(-1.0, min(1.0, valence(mean))),
            )
        )

    def _publish_line(self, event: WalkedOut | ReachedTicketMachine) -> None:
        if isinstance(event, WalkedOut):
            kind, duration = LineEvent.WALKOUT, event.in_line_s
        else:
            kind, duration = LineEvent.PRE_TICKET_WAIT, event.wait_s
        if duration > MAX_LINE_S:  # half a day "in line" is a poster or a plant the detector took for a person
            logger.info("ignored a %s of %.0f s: longer than anyone queues", kind.value, duration)
            return
        self._on_line(LineMessage(site=self._site, desk=self._desk, event=kind, duration_s=round(duration, 2)))

    def figures(self, camera_ok: bool) -> CameraFigures:
        """Frames per second and mean detector latency over the last frames."""
        recent = self._frame_times[-50:]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        latency = sum(self._latencies[-50:]) / len(self._latencies[-50:]) if self._latencies else 0.0
        del self._frame_times[:-50], self._latencies[:-50]
        return CameraFigures(round(fps, 2), round(latency, 1), camera_ok)

    def run(
        self,
        source: FrameSource,
        stop: threading.Event,
        on_figures: Callable[[CameraFigures], None] = lambda f: None,
    ) -> None:
        """Process frames until ``stop`` is set or the source ends, at most ``max_fps`` a second."""
        interval = 1.0 / self.settings.max_fps
        last_processed = -1e9
        last_figures = time.monotonic()
        while not stop.is_set() and not source.finished:
            frame = source.read()
            if frame is not None and frame.t - last_processed >= interval * 0.999:
                last_processed = frame.t
                self.process(frame)
            if time.monotonic() - last_figures >= 5:
                last_figures = time.monotonic()
                on_figures(self.figures(source.health().ok))
